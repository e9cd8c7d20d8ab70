export * from './nats-auth.js';

export * from './snapshot-signer.js';

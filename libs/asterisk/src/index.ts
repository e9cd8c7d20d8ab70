export * from './errors.js';
export * from './line-pieces.js';
export * from './agi/agi-env-parser.js';
export * from './agi/agi-response-parser.js';
export * from './agi/agi-command.js';
export * from './agi/agi-session.js';
export * from './ami/ami-codec.js';

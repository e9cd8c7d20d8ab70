export * from './snapshot-signer.js';
export * from './snapshot-wire.js';
export * from './snapshot-text.js';
export * from './split-snapshot.js';

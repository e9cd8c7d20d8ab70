export * from './snapshot-signer.js';
export * from './snapshot-wire.js';
export * from './snapshot-text.js';
export * from './split-snapshot.js';
export * from './chunked-shared.js';
export * from './sized-members.js';

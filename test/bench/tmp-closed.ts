import { placeCall } from '../support/asterisk/fastagi-peer.js';
import { AGENT_MIX } from './agent-bench-setup.js';
import { mixPicker } from './call-mix.js';
const pick = mixPicker(AGENT_MIX);
const end = performance.now() + 5000; let n = 0;
await Promise.all(Array.from({ length: 200 }, async () => { while (performance.now() < end) { await placeCall({ host: '127.0.0.1', port: 24573, timeoutMs: 5000, ...pick() }); n++; } }));
console.log('calls', n);

import { placeCall } from '../support/asterisk/fastagi-peer.js';
import { AGENT_MIX } from './agent-bench-setup.js';
import { mixPicker } from './call-mix.js';
const pick = mixPicker(AGENT_MIX);
const ttfc: number[] = [];
const t0 = performance.now(); let started = 0; const ps: Promise<void>[] = [];
while (performance.now() - t0 < 6000) {
  const due = Math.floor((performance.now() - t0) / 2);
  while (started < due) { started++; const rec = started > 500; ps.push(placeCall({ host: '127.0.0.1', port: 24573, timeoutMs: 5000, ...pick() }).then((c) => { if (rec && c.timeToFirstCommandMs !== null) ttfc.push(c.timeToFirstCommandMs); })); }
  await new Promise((r) => setTimeout(r, 1));
}
await Promise.all(ps);
ttfc.sort((a, b) => a - b);
const p = (q: number) => ttfc[Math.floor(ttfc.length * q)]!.toFixed(3);
console.log('n', ttfc.length, 'p50', p(0.5), 'p90', p(0.9), 'p99', p(0.99), 'max', ttfc[ttfc.length - 1]!.toFixed(2));

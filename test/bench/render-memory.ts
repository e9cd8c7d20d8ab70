// npm run bench:render-memory - the render worker's memory for the 100,000-extension head office: the built agent's
// workerRunner renders bench:apply's site (format 2's stored pair text) into an empty dir, then again over the files
// written (the change case: files read to compare); the process's RSS is sampled every 20 ms (its peak, less the RSS
// before, is what the worker took). BENCH_AGENT_ROOT: another checkout's built tree for A/B.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { buildSiteConfig } from '@fedpbx/dialplan';
import { generateSigningKey, pairText, signSplitSnapshot } from '@fedpbx/signing';
import { BENCH_SITE, benchFederation } from './agent-bench-setup.js';
import { REPO_ROOT } from '../support/agent-process.js';

const ROOT = resolve(process.env.BENCH_AGENT_ROOT ?? REPO_ROOT);
const { workerRunner } = await import(`${ROOT}/apps/agent/dist/asterisk-config/render-in-worker.js`);
const key = generateSigningKey('controller-1');
const parts = signSplitSnapshot(buildSiteConfig(benchFederation(), BENCH_SITE), 1, 1, key, new Date('2026-11-26T09:00:00Z'));
const jobText = pairText(parts.siteText, parts.sharedText);
const dir = mkdtempSync(join(tmpdir(), 'render-memory-'));
const run = workerRunner(new URL(`file://${ROOT}/apps/agent/dist/asterisk-config/render-worker.js`));
const mb = (n: number) => Math.round(n / 2 ** 20);
for (const label of ['first', 'again', 'changed']) {
  global.gc?.();
  const before = process.memoryUsage.rss();
  let peak = before;
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), 20);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const snapshotText = label === 'changed' ? jobText.replace('"displayName":"', '"displayName":"X') : jobText;
  const result = await run({ snapshotText, outDir: dir, extensions: { agiHost: '127.0.0.1', agiPort: 4573 } });
  clearInterval(timer);
  const cpu = process.cpuUsage(cpu0);
  console.log(`${label}: written ${JSON.stringify(result.written)}; RSS before ${mb(before)} MB, peak ${mb(peak)} MB (+${mb(peak - before)}); CPU ${((cpu.user + cpu.system) / 1000).toFixed(0)} ms (all threads), wall ${(performance.now() - t0).toFixed(0)} ms`);
}
rmSync(dir, { recursive: true, force: true });

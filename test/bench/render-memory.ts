// npm run bench:render-memory - the render worker's memory for the 100,000-extension head office: the built agent's
// workerRunner renders bench:apply's site (format 2's stored pair text) into an empty dir, again over the files it
// wrote (nothing changed), and once with one display name changed. It runs in a child process of its own that holds
// only the text (started with the agent's Node options), whose RSS is sampled every 20 ms: the peak over the RSS
// before each render is what the render took. BENCH_AGENT_ROOT: another checkout's built tree for A/B.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { REPO_ROOT } from '../support/agent-process.js';

const ROOT = resolve(process.env.BENCH_AGENT_ROOT ?? REPO_ROOT);
const mb = (n: number) => Math.round(n / 2 ** 20);

if (process.argv[2] === undefined) {
  const { buildSiteConfig } = await import('@fedpbx/dialplan');
  const { generateSigningKey, pairText, signSplitSnapshot } = await import('@fedpbx/signing');
  const { AGENT_NODE_OPTIONS, BENCH_SITE, benchFederation } = await import('./agent-bench-setup.js');
  const key = generateSigningKey('controller-1');
  const parts = signSplitSnapshot(buildSiteConfig(benchFederation(), BENCH_SITE), 1, 1, key, new Date('2026-11-26T09:00:00Z'));
  const dir = mkdtempSync(join(tmpdir(), 'render-memory-'));
  const file = join(dir, 'pair.txt');
  writeFileSync(file, pairText(parts.siteText, parts.sharedText));
  console.log(`load ${readFileSync('/proc/loadavg', 'utf8').split(' ')[0]}; agent Node options ${AGENT_NODE_OPTIONS}`);
  execFileSync(process.execPath, [...AGENT_NODE_OPTIONS.split(' '), '--import', 'tsx', fileURLToPath(import.meta.url), file], { stdio: 'inherit' });
  rmSync(dir, { recursive: true, force: true });
} else {
  const { workerRunner } = await import(`${ROOT}/apps/agent/dist/asterisk-config/render-in-worker.js`);
  const file = process.argv[2];
  const text = readFileSync(file, 'utf8');
  const outDir = join(file, '..', 'out');
  const run = workerRunner(new URL(`file://${ROOT}/apps/agent/dist/asterisk-config/render-worker.js`));
  for (const label of ['first', 'again', 'changed']) {
    const before = process.memoryUsage.rss();
    let peak = before;
    const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), 20);
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const snapshotText = label === 'changed' ? text.replace('"displayName":"', '"displayName":"X') : text;
    const result = await run({ snapshotText, outDir, extensions: { agiHost: '127.0.0.1', agiPort: 4573 } });
    clearInterval(timer);
    const cpu = process.cpuUsage(cpu0);
    console.log(`${label}: written ${JSON.stringify(result.written)}; RSS before ${mb(before)} MB, peak ${mb(peak)} MB (+${mb(peak - before)}); CPU ${((cpu.user + cpu.system) / 1000).toFixed(0)} ms (all threads), wall ${(performance.now() - t0).toFixed(0)} ms`);
  }
}

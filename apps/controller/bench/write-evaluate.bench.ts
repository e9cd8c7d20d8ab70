/**
 * npm run bench:write-evaluate - what the controller's writer spends working out a plan-wide write before the
 * database and the publish (issue #20 §1): FederationWriter's evaluation of a number-range write (apply the change,
 * revalidate, the snapshot hash of every site the change can reach, the answer's warnings), in process, on
 * generateFederation({ sites: SITES, extensionsPerSite: 50 }), the writes one after another as the controller makes
 * them (each starts from the federation, validation and heads the one before left). CPU time of this thread, per
 * write; the first 3 writes are left out (warm-up). Prints one JSON line with the load average.
 * Knobs: SITES (1000), BENCH_WRITES (30), FEDPBX_SNAPSHOT_FORMAT (split; paired: the head hashes of that format, each
 * write handing on the site parts it cannot change, as the controller's writes do). Runs from source (tsx with the controller's tsconfig: decorators).
 */
import 'reflect-metadata';
import { loadavg } from 'node:os';
import type { Federation } from '@fedpbx/contracts';
import { generateFederation } from '@fedpbx/dialplan';
import { FederationWriter, type ChangePlanner } from '../src/federation/federation-writer.js';
import type { FederationView } from '../src/federation/federation-store.js';
import { siteConfigHash } from '../src/federation/site-config-hash.js';
import type { SiteHead } from '../src/revisions/revision.repository.js';

const SITES = Number(process.env['SITES'] ?? 1000);
const WRITES = Number(process.env['BENCH_WRITES'] ?? 30);
const WARM_UP = 3;
const FORMAT = process.env['FEDPBX_SNAPSHOT_FORMAT'] === 'paired' ? 'paired' : 'split';

/** The writer's evaluation, reached past `private`: the bench measures it without a database. */
interface Evaluating {
  evaluate(view: FederationView, plan: ChangePlanner, req: { actor: string; reason: string; dryRun: boolean }): { outcome: { federation: Federation; changedSites: readonly { siteId: string; after?: string }[] } };
  currentValidation(): Promise<unknown>;
}

const cpuMs = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

const fed = generateFederation({ sites: SITES, extensionsPerSite: 50, flows: 0 });
const first: FederationView = {
  version: 1,
  state: { version: 1, hubSiteId: fed.hubSiteId },
  federation: fed,
  heads: new Map<string, SiteHead>(fed.sites.map((s) => [s.id, { revision: 1, contentHash: siteConfigHash(fed, s.id) }])),
};
// Only the store's read is used (the first validation); evaluate touches no other dependency.
const store = { read: async () => first };
const writer = new FederationWriter(null as never, null as never, store as never, null as never, null as never, null as never, { FEDPBX_SNAPSHOT_FORMAT: FORMAT }) as unknown as Evaluating;
await writer.currentValidation();

let view = first;
const perWrite: number[] = [];
for (let k = 0; k < WRITES + WARM_UP; k++) {
  const value = { id: `nr-bench-${k}`, siteId: (fed.sites[(k * 37 + 11) % SITES] as Federation['sites'][number]).id, from: String(900_000 + k * 100), to: String(900_099 + k * 100) };
  const t0 = cpuMs();
  const { outcome } = writer.evaluate(view, () => [{ collection: 'numberRanges', op: 'upsert', value }], { actor: 'bench', reason: 'bench', dryRun: false });
  if (k >= WARM_UP) perWrite.push(cpuMs() - t0);
  const heads = new Map(view.heads);
  for (const s of outcome.changedSites) if (s.after !== undefined) heads.set(s.siteId, { revision: (heads.get(s.siteId)?.revision ?? 0) + 1, contentHash: s.after });
  view = { version: view.version + 1, state: { ...view.state, version: view.version + 1 }, federation: outcome.federation, heads };
}
const sorted = [...perWrite].sort((a, b) => a - b);
const at = (p: number): number => Math.round((sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] as number) * 10) / 10;
console.log(JSON.stringify({ sites: SITES, writes: WRITES, snapshot_format: FORMAT, evaluate_cpu_ms_p50: at(0.5), evaluate_cpu_ms_p90: at(0.9), evaluate_cpu_ms_min: at(0), load_average: loadavg().map((l) => Math.round(l * 10) / 10) }));

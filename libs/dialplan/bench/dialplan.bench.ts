/**
 * npm run bench:dialplan - the pure routing library at federation scale.
 * 1,000 sites, 100,000 extensions, ~2,000 outbound patterns, 500 call flows (generateFederation).
 * Prints a human table, then one final JSON line:
 *   {"validate_ms","compile_site_ms","resolve_per_s","resolve_p50_us","resolve_p99_us", ...}
 * Targets (issue #2): validation < 1 s; resolution >= 300,000/s on one core with p99 < 20 us.
 */
import type { RouteRequest } from '../src/index.js';
import {
  buildSiteConfig,
  cityPrefixOf,
  compileSite,
  generateFederation,
  rangeStartOf,
  resolveRoute,
  siteIdOf,
  validateFederation,
  validateFederationFlows,
} from '../src/index.js';

const SITES = Number(process.env.BENCH_SITES ?? 1000);
const EXT_PER_SITE = Number(process.env.BENCH_EXT_PER_SITE ?? 100);
const FLOWS = Number(process.env.BENCH_FLOWS ?? 500);
const RESOLVE_SECONDS = Number(process.env.BENCH_SECONDS ?? 3);

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
const ms = (start: bigint): number => Number(process.hrtime.bigint() - start) / 1e6;

const t0 = process.hrtime.bigint();
const fed = generateFederation({ sites: SITES, extensionsPerSite: EXT_PER_SITE, flows: FLOWS });
const generateMs = ms(t0);
const patterns = fed.outboundRoutes.reduce((n, r) => n + r.patterns.length, 0);

// Whole-federation validation, as every API write runs it (numbering plan + call flows).
const validateRuns: number[] = [];
let errors = 0;
for (let i = 0; i < 5; i++) {
  const start = process.hrtime.bigint();
  const result = validateFederation(fed, { validateCallFlows: validateFederationFlows });
  validateRuns.push(ms(start));
  errors = result.errors.length;
}
if (errors > 0) throw new Error(`generated federation has ${errors} validation errors`);

// Per-site snapshot: the site's view of the federation, then its lookup structures.
const compileRuns: number[] = [];
for (let i = 0; i < 20; i++) {
  const start = process.hrtime.bigint();
  compileSite(buildSiteConfig(fed, siteIdOf((i * 37) % SITES)), 1);
  compileRuns.push(ms(start));
}

// A realistic mix at one site: 40% local, 30% other sites, 20% tail-end hop-off, 10% denied by class of service.
const origin = Math.floor(SITES / 2);
const site = compileSite(buildSiteConfig(fed, siteIdOf(origin)), 1);
// mulberry32: a small deterministic PRNG with good low bits.
let seed = 42;
const rand = (n: number): number => {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return (((t ^ (t >>> 14)) >>> 0) % n);
};
const rangeStart = new Map(fed.numberRanges.map((r) => [r.siteId, Number(r.from)]));
const requests: RouteRequest[] = [];
const base = rangeStartOf(origin);
for (let i = 0; i < 100_000; i++) {
  const roll = rand(10);
  // Callers 0,1 (national), 2 (international); 4 is internal-only (denied for PSTN).
  const caller = String(base + [0, 1, 2, 5, 6][rand(5)]!);
  let dialled: string;
  if (roll < 4) dialled = String(base + rand(EXT_PER_SITE));
  else if (roll < 7) {
    let other = rand(SITES);
    if (other === origin) other = (other + 1) % SITES;
    const prefixed = fed.sites[other]?.prefix;
    const number = String((rangeStart.get(siteIdOf(other)) ?? 0) + rand(EXT_PER_SITE));
    dialled = fed.sites[other]?.prefixRequired && prefixed ? prefixed + number : number;
  } else if (roll < 9) dialled = `${cityPrefixOf(rand(SITES))}${String(100000 + rand(900000))}`;
  else {
    dialled = `${cityPrefixOf(rand(SITES))}${String(100000 + rand(900000))}`;
    requests.push({ entry: 'internal', caller: String(base + 4), dialled });
    continue;
  }
  requests.push({ entry: 'internal', caller, dialled });
}
const kinds: Record<string, number> = {};
for (const r of requests.slice(0, 10_000)) {
  const p = resolveRoute(site, r);
  const k = p.outcome === 'denied' ? `denied:${p.deny?.code}` : p.routeKind;
  kinds[k] = (kinds[k] ?? 0) + 1;
}

// Throughput: tight loop for RESOLVE_SECONDS.
let sink = 0;
for (let i = 0; i < 200_000; i++) sink += resolveRoute(site, requests[i % requests.length]!).attempts.length; // warm-up
let count = 0;
const until = process.hrtime.bigint() + BigInt(RESOLVE_SECONDS * 1e9);
const tStart = process.hrtime.bigint();
while (process.hrtime.bigint() < until) {
  for (let i = 0; i < 1000; i++) sink += resolveRoute(site, requests[(count + i) % requests.length]!).attempts.length;
  count += 1000;
}
const perSecond = count / (Number(process.hrtime.bigint() - tStart) / 1e9);

// Latency: each call timed alone (includes ~40 ns of timer overhead).
const samples = new Float64Array(200_000);
for (let i = 0; i < samples.length; i++) {
  const req = requests[i % requests.length]!;
  const s = process.hrtime.bigint();
  sink += resolveRoute(site, req).attempts.length;
  samples[i] = Number(process.hrtime.bigint() - s) / 1000;
}
samples.sort();
const pct = (p: number): number => samples[Math.min(samples.length - 1, Math.floor(samples.length * p))] as number;

const figures = {
  validate_ms: +median(validateRuns).toFixed(1),
  compile_site_ms: +median(compileRuns).toFixed(2),
  resolve_per_s: Math.round(perSecond),
  resolve_p50_us: +pct(0.5).toFixed(2),
  resolve_p99_us: +pct(0.99).toFixed(2),
  sites: SITES,
  extensions: fed.extensions.length,
  outbound_patterns: patterns,
  call_flows: fed.callFlows.length,
  mix: kinds,
};
console.log(`generated in ${generateMs.toFixed(0)} ms: ${SITES} sites, ${fed.extensions.length} extensions, ${patterns} outbound patterns, ${fed.callFlows.length} flows`);
console.log(`validate (median of 5):      ${figures.validate_ms} ms   (first run ${validateRuns[0]?.toFixed(1)} ms; target < 1000)`);
console.log(`compile one site (median):   ${figures.compile_site_ms} ms`);
console.log(`resolve throughput:          ${figures.resolve_per_s.toLocaleString('en')} /s on one core (target >= 300,000)`);
console.log(`resolve latency p50 / p99:   ${figures.resolve_p50_us} / ${figures.resolve_p99_us} us (target p99 < 20)`);
console.log(`mix (first 10k):             ${JSON.stringify(kinds)}   [sink ${sink % 10}]`);
console.log(JSON.stringify(figures));

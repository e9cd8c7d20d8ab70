/**
 * `npm run trace -- <site> <caller> <number> [--link-down SITE]... [--trunk-down TRUNK]... [--entry E] [--from-site S]`
 * Explains how a site of the founding scenario (moscow, piter, kazan) routes a call - the same code and output as
 * `fedpbx-agent trace` on a real box, without needing one.
 */
import { parseArgs } from 'node:util';
import type { RouteEntry } from '@fedpbx/contracts';
import { buildSiteConfig, compileSite, foundingScenario, traceRoute } from '@fedpbx/dialplan';
import { formatTrace } from '../apps/agent/src/cli/trace-command.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    'link-down': { type: 'string', multiple: true, default: [] },
    'trunk-down': { type: 'string', multiple: true, default: [] },
    entry: { type: 'string', default: 'internal' },
    'from-site': { type: 'string' },
  },
});
const [site, caller, number] = positionals;
if (site === undefined || caller === undefined || number === undefined) {
  console.error('usage: npm run trace -- <moscow|piter|kazan> <caller> <number> [--link-down SITE] [--trunk-down TRUNK] [--entry internal|from-sites|from-pstn] [--from-site SITE]');
  process.exit(2);
}
const federation = foundingScenario();
const knownSites = federation.sites.map((s) => s.id);
if (!knownSites.includes(site)) {
  console.error(`no site "${site}" in the founding scenario; its sites are: ${knownSites.join(', ')}`);
  process.exit(2);
}
const compiled = compileSite(buildSiteConfig(federation, site), 1);
const result = traceRoute(compiled, {
  entry: values.entry as RouteEntry,
  caller,
  dialled: number,
  fromSiteId: values['from-site'],
  health: {
    links: Object.fromEntries(values['link-down'].map((s) => [s, 'down' as const])),
    trunks: Object.fromEntries(values['trunk-down'].map((t) => [t, 'down' as const])),
  },
});
process.stdout.write(formatTrace(result));

import { parseArgs } from 'node:util';
import { formatSurvivabilityReport, survivabilityReport } from '@fedpbx/dialplan';
import { snapshotInForce } from './snapshot-in-force.js';

const USAGE = 'usage: fedpbx-agent survivability [--scenario ID]... [--red-flags] [--json]\n';

/**
 * `fedpbx-agent survivability [--scenario ID]... [--red-flags] [--json]`: what this site can still do when the
 * centre, a link, all links, a trunk or the agent fails - computed from the snapshot in force on this box with the
 * same code as the controller's report (libs/dialplan), so it holds even when the centre cannot be asked.
 * Exit status 0 either way; 3 when a scenario asked for does not exist.
 */
export async function runSurvivabilityCommand(args: readonly string[], env: NodeJS.ProcessEnv, out: NodeJS.WritableStream): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...args],
      options: {
        scenario: { type: 'string', multiple: true, default: [] },
        'red-flags': { type: 'boolean', default: false },
        json: { type: 'boolean', default: false },
      },
    }));
  } catch {
    out.write(USAGE);
    return 2;
  }
  const snapshot = await snapshotInForce(env, out);
  if (snapshot === undefined) return 1;
  const full = survivabilityReport(snapshot.config, snapshot.revision);
  const wanted = new Set(values.scenario);
  const unknown = [...wanted].filter((id) => !full.scenarios.some((s) => s.id === id));
  if (unknown.length > 0) {
    out.write(`no scenario ${unknown.join(', ')}; this site has: ${full.scenarios.map((s) => s.id).join(', ')}\n`);
    return 3;
  }
  const scenarios = full.scenarios
    .filter((s) => wanted.size === 0 || wanted.has(s.id))
    .map((s) => (values['red-flags'] ? { ...s, rows: s.rows.filter((r) => r.status === 'red-flag') } : s));
  const report = { ...full, redFlags: scenarios.reduce((n, s) => n + s.redFlags, 0), scenarios };
  out.write(values.json ? `${JSON.stringify(report)}\n` : formatSurvivabilityReport(report));
  return 0;
}

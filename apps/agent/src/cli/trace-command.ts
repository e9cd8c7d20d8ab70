import { parseArgs } from 'node:util';
import { ROUTE_ENTRIES, type Health, type RouteEntry, type TraceResult } from '@fedpbx/contracts';
import { compileSite, traceRoute } from '@fedpbx/dialplan';
import { snapshotInForce } from './snapshot-in-force.js';

/**
 * `fedpbx-agent trace <caller> <number> [--link-down SITE]... [--trunk-down TRUNK]... [--entry internal|from-sites|from-pstn]
 * [--from-site SITE] [--json]`: explains, step by step, how this site would route a call - against the snapshot
 * in force on this box, through the same code the call path runs.
 */
export async function runTraceCommand(args: readonly string[], env: NodeJS.ProcessEnv, out: NodeJS.WritableStream): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...args],
    allowPositionals: true,
    options: {
      'link-down': { type: 'string', multiple: true, default: [] },
      'trunk-down': { type: 'string', multiple: true, default: [] },
      entry: { type: 'string', default: 'internal' },
      'from-site': { type: 'string' },
      json: { type: 'boolean', default: false },
    },
  });
  const [caller, number] = positionals;
  if (caller === undefined || number === undefined || !(ROUTE_ENTRIES as readonly string[]).includes(values.entry)) {
    out.write('usage: fedpbx-agent trace <caller> <number> [--link-down SITE] [--trunk-down TRUNK] [--entry internal|from-sites|from-pstn] [--from-site SITE] [--json]\n');
    return 2;
  }
  const snapshot = await snapshotInForce(env, out);
  if (snapshot === undefined) return 1;
  const health: Health = {
    links: Object.fromEntries(values['link-down'].map((s) => [s, 'down'])),
    trunks: Object.fromEntries(values['trunk-down'].map((t) => [t, 'down'])),
  };
  const result = traceRoute(compileSite(snapshot.config, snapshot.revision), {
    entry: values.entry as RouteEntry,
    caller,
    dialled: number,
    fromSiteId: values['from-site'],
    health,
  });
  out.write(values.json ? `${JSON.stringify(result)}\n` : formatTrace(result));
  return 0;
}

export function formatTrace({ plan, steps }: TraceResult): string {
  const lines = steps.map((s, i) => `${String(i + 1).padStart(2)}. ${s.step.padEnd(16)} ${s.detail}`);
  lines.push('');
  if (plan.outcome === 'denied') lines.push(`=> DENIED (${plan.deny?.code}): ${plan.deny?.message}`);
  else {
    lines.push(`=> ${plan.routeKind} (${plan.callClass})${plan.record ? ', recorded' : ''}:`);
    plan.attempts.forEach((a, i) => {
      const what =
        a.kind === 'endpoint' ? `Dial PJSIP/${a.endpoint}, ${a.timeoutSec} s`
        : a.kind === 'site' ? `Dial PJSIP/${a.number}@${a.endpoint} (to ${a.siteId}), ${a.timeoutSec} s`
        : a.kind === 'trunk' ? `Dial PJSIP/${a.number}@${a.endpoint} (trunk ${a.trunkId} at ${a.trunkSiteId}${a.reason !== 'route' ? `, ${a.reason}` : ''}), ${a.timeoutSec} s`
        : a.kind === 'flow' ? `run call flow ${a.flowId}`
        : `voicemail ${a.mailbox}`;
      lines.push(`   ${i + 1}. ${what}`);
    });
  }
  return `${lines.join('\n')}\n`;
}

// deploy/ stays in step with the code: the dashboard and alerts use only metrics the agent registers, and the
// CDR configs (cdr_manager.conf mappings, cdr_custom.conf) are the agent's one column list (cdr/cdr-columns.ts).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { AlarmBoard } from '../../apps/agent/src/alarms/alarm-board.js';
import { CDR_COLUMNS, DEFAULT_CDR_CUSTOM_PATH, cdrManagerMappings, renderCdrCustomConf } from '../../apps/agent/src/cdr/cdr-columns.js';
import { AgentMetrics } from '../../apps/agent/src/metrics/agent-metrics.js';

const DEPLOY = join(import.meta.dirname, '..', '..', 'deploy');
const read = (p: string): string => readFileSync(join(DEPLOY, p), 'utf8');

async function registeredMetricNames(): Promise<Set<string>> {
  const metrics = new AgentMetrics(true);
  new AlarmBoard(pino({ level: 'silent' }), metrics.registry); // fedpbx_alarm, on the agent's registry
  const names = new Set<string>();
  for (const m of await metrics.registry.getMetricsAsJSON()) {
    names.add(m.name);
    if (String(m.type) === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(`${m.name}${s}`);
  }
  return names;
}

const usedMetrics = (text: string): string[] => [...new Set(text.match(/\bfedpbx_[a-z0-9_]+/g) ?? [])];

describe('deploy/', () => {
  it('the Grafana dashboard is valid JSON, shows the README metrics, and queries only registered ones', async () => {
    const dashboard = JSON.parse(read('grafana/fedpbx.json')) as { panels: { targets: { expr: string }[] }[] };
    const exprs = dashboard.panels.flatMap((p) => p.targets.map((t) => t.expr)).join('\n');
    const known = await registeredMetricNames();
    expect(usedMetrics(exprs).filter((m) => !known.has(m))).toEqual([]);
    for (const m of [
      'fedpbx_agi_sessions_active',
      'fedpbx_agi_time_to_first_command_seconds_bucket',
      'fedpbx_calls_total',
      'fedpbx_snapshot_revision',
      'fedpbx_link_up',
      'fedpbx_trunk_up',
      'fedpbx_connection_up',
    ]) {
      expect(exprs).toContain(m);
    }
  });

  it('the Prometheus alert rules use only registered metrics', async () => {
    const known = await registeredMetricNames();
    expect(usedMetrics(read('prometheus/fedpbx-rules.yml')).filter((m) => !known.has(m))).toEqual([]);
    expect(read('prometheus/prometheus.yml')).toContain('fedpbx-rules.yml');
  });

  it('alerts on every site alarm, on CDRs that stop reaching JetStream and on refused snapshots', () => {
    // The agent's alarms (nats-unreachable, cdr-outbox-write-failed, pjsip-transport-failed, ...) are shown at the
    // controller; whoever watches Prometheus must see them too, and the two failures that raise none.
    const expressions = [...read('prometheus/fedpbx-rules.yml').matchAll(/^\s+expr: (.+)$/gm)].map((m) => m[1]!);
    expect(expressions).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^fedpbx_alarm\{[^}]*\} == 1$/),
        expect.stringMatching(/^min_over_time\(fedpbx_cdr_backlog\{[^}]*\}\[\d+m\]\) > \d+$/),
        expect.stringMatching(/^increase\(fedpbx_rejected_inputs_total\{[^}]*reason=~"snapshot-\.\*"[^}]*\}\[\d+m\]\) > 0$/),
      ]),
    );
  });

  it('cdr_manager.conf maps exactly the CDR columns the default Cdr event lacks', () => {
    const text = read('asterisk/cdr_manager.conf');
    const mappings = text.slice(text.indexOf('[mappings]'));
    const lines = [...mappings.matchAll(/^([A-Za-z_]+\s*=>\s*[A-Za-z_]+)\s*$/gm)].map((m) => m[1]!.replace(/\s+/g, ' '));
    // A new column in apps/agent/src/cdr/cdr-columns.ts: these are the lines cdr_manager.conf must have.
    expect(lines.sort()).toEqual(cdrManagerMappings().sort());
    expect(text).toMatch(/^\[general\]\s*\nenabled = yes$/m);
  });

  it('cdr_custom.conf is exactly what the column list renders (same fields, same order)', () => {
    // A new column in apps/agent/src/cdr/cdr-columns.ts: write renderCdrCustomConf() to deploy/asterisk/cdr_custom.conf.
    expect(read('asterisk/cdr_custom.conf')).toBe(renderCdrCustomConf());
    expect(read('asterisk/cdr_custom.conf')).toContain(`fields = ${CDR_COLUMNS.map((c) => c.conf).join(', ')}\n`);
  });

  it('the systemd units and the setup script agree on users and writable directories', () => {
    const agent = read('systemd/fedpbx-agent.service');
    const setup = read('asterisk/setup-asterisk-user.sh');
    expect(agent).toMatch(/^User=fedpbx$/m);
    expect(agent).toMatch(/^SupplementaryGroups=asterisk$/m);
    for (const dir of /^ReadWritePaths=(.+)$/m.exec(agent)![1]!.split(' ')) {
      expect(setup).toContain(dir.replace('/etc/asterisk', '$ETC'));
    }
    expect(read('systemd/fedpbx-controller.service')).toMatch(/^DynamicUser=yes$/m);
    expect(read('asterisk/asterisk.service.d/10-fedpbx-unprivileged.conf')).toMatch(/^User=asterisk$/m);
  });

  it('the CDR file has its folder, a rename-only rotation, and the agent reads the path cdr_custom.conf writes', () => {
    const setup = read('asterisk/setup-asterisk-user.sh');
    expect(DEFAULT_CDR_CUSTOM_PATH).toBe(`/var/log/asterisk/cdr-custom/${/^\[([^\]]+)\]$/m.exec(read('asterisk/cdr_custom.conf'))![1]}`);
    expect(setup).toContain('-m 2750 /var/log/asterisk/cdr-custom');
    expect(setup).toMatch(/for f in [^;]*\bcdr_custom\.conf\b/);
    const rotate = read('asterisk/logrotate-fedpbx-cdr');
    expect(rotate).toContain(`${DEFAULT_CDR_CUSTOM_PATH} {`);
    const directives = rotate.split('\n').filter((l) => !l.startsWith('#'));
    expect(directives.join('\n')).not.toMatch(/copytruncate|^\s*create\b/m);
    expect(directives.join('\n')).toMatch(/^\s*nocreate$/m);
    expect(directives.join('\n')).toMatch(/^\s*delaycompress$/m);
    expect(read('systemd/fedpbx-agent.service')).toContain(`FEDPBX_CDR_FILE=${DEFAULT_CDR_CUSTOM_PATH}`);
  });

  it('recordings: Asterisk runs with UMask=0002, the agent may write the recordings folder, old site folders are fixed', () => {
    expect(read('asterisk/asterisk.service.d/10-fedpbx-unprivileged.conf')).toMatch(/^UMask=0002$/m);
    expect(/^ReadWritePaths=(.+)$/m.exec(read('systemd/fedpbx-agent.service'))![1]!.split(' ')).toContain('/var/spool/asterisk/monitor/fedpbx');
    expect(read('asterisk/setup-asterisk-user.sh')).toContain('find /var/spool/asterisk/monitor/fedpbx -mindepth 1 -type d -exec chmod 2770');
  });
});

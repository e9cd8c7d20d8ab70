// `fedpbx-agent survivability`: the built agent reports from the signed snapshot stored on the box, no network.
import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SurvivabilityReport } from '@fedpbx/contracts';
import { buildSiteConfig, foundingScenario, formatSurvivabilityReport, survivabilityReport } from '@fedpbx/dialplan';
import { describe, expect, it } from 'vitest';
import { AGENT_MAIN } from '../support/agent-process.js';
import { TestController } from '../support/signed-snapshots.js';

const controller = new TestController();
const fed = foundingScenario();

function run(env: NodeJS.ProcessEnv, args: string[]): Promise<{ code: number; stdout: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [AGENT_MAIN, 'survivability', ...args], { env }, (err, stdout) =>
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : -1, stdout }),
    );
  });
}

describe('fedpbx-agent survivability', () => {
  const stateDir = mkdtempSync(join(tmpdir(), 'fedpbx-state-'));
  const env = { ...process.env, ...controller.agentEnv('piter', stateDir, { FEDPBX_BOOTSTRAP_SNAPSHOT: controller.writeSnapshot(fed, 'piter', 5) }) };

  it('prints the report of the snapshot in force: the same tables as libs/dialplan computes', async () => {
    const { code, stdout } = await run(env, []);
    expect(code).toBe(0);
    expect(stdout).toBe(formatSurvivabilityReport(survivabilityReport(buildSiteConfig(fed, 'piter'), 5)));
    expect(stdout).toContain('== Link to moscow down: 2 red flag(s)');
    expect(stdout).toContain('RED FLAG      outbound  International (international) -> -: 81000000000: every trunk of route "International" is unavailable');
  });

  it('answers one scenario in JSON, red flags only', async () => {
    const { code, stdout } = await run(env, ['--scenario', 'trunk-down:t-piter-city', '--red-flags', '--json']);
    expect(code).toBe(0);
    const report = JSON.parse(stdout) as SurvivabilityReport;
    expect(report).toMatchObject({ siteId: 'piter', revision: 5, redFlags: 4 });
    expect(report.scenarios.map((s) => s.id)).toEqual(['trunk-down:t-piter-city']);
    expect(report.scenarios[0]?.rows.map((r) => `${r.area} ${r.subject}`)).toEqual([
      'emergency emergency 112',
      'outbound St Petersburg city (local)',
      'inbound DID _7812555030X',
      'inbound DID 78125550300',
    ]);
  });

  it('names the scenarios the site has when asked for one it does not have', async () => {
    const { code, stdout } = await run(env, ['--scenario', 'link-down:ufa']);
    expect(code).toBe(3);
    expect(stdout).toContain('no scenario link-down:ufa; this site has: centre-down, link-down:kazan, link-down:moscow, all-links-down, trunk-down:t-piter-city, trunk-down:t-moscow-city, agent-down');
  });

  it('says so when the box has no snapshot', async () => {
    const empty = { ...process.env, ...controller.agentEnv('piter', mkdtempSync(join(tmpdir(), 'fedpbx-state-'))) };
    const { code, stdout } = await run(empty, []);
    expect(code).toBe(1);
    expect(stdout).toContain('no snapshot in');
  });
});

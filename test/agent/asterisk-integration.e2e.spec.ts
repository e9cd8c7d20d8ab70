// The agent process with AMI and a config dir: link loss seen through AMI reroutes the next call, CDRs are kept
// at the site with the route the agent chose, fedpbx's Asterisk files are written and reloaded once.
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { foundingScenario } from '@fedpbx/dialplan';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgent, type AgentProcess } from '../support/agent-process.js';
import { AmiPeer, DEFAULT_AMI_USER } from '../support/asterisk/ami-peer.js';
import { moscowPjsip } from '../support/asterisk/ami-scenario.js';
import { placeCall } from '../support/asterisk/fastagi-peer.js';
import { TestController } from '../support/signed-snapshots.js';

let ami: AmiPeer;
let agent: AgentProcess;
let etc: string;

beforeAll(async () => {
  ami = await AmiPeer.start();
  ami.pjsip = moscowPjsip();
  etc = mkdtempSync(join(tmpdir(), 'fedpbx-etc-asterisk-'));
  writeFileSync(join(etc, 'pjsip.conf'), '; the admin\'s own file\n[transport-udp]\ntype=transport\nprotocol=udp\nbind=0.0.0.0\n');
  writeFileSync(join(etc, 'extensions.conf'), '[default]\n#include extensions_fedpbx.conf\n');
  const c = new TestController();
  agent = await startAgent({
    ...c.agentEnv('moscow', ''),
    FEDPBX_STATE_DIR: '',
    FEDPBX_BOOTSTRAP_SNAPSHOT: c.writeSnapshot(foundingScenario(), 'moscow', 1),
    FEDPBX_AMI_HOST: '127.0.0.1',
    FEDPBX_AMI_PORT: String(ami.port),
    FEDPBX_AMI_USER: DEFAULT_AMI_USER.name,
    FEDPBX_AMI_SECRET: DEFAULT_AMI_USER.secret,
    FEDPBX_ASTERISK_CONFIG_DIR: etc,
  });
  await ami.waitFor(() => ami.loggedInSessions.length > 0, 10_000);
}, 30_000);

afterAll(async () => {
  await agent.stop();
  await ami.close();
});

function setPiterContact(status: 'Reachable' | 'Unreachable'): void {
  ami.pjsip = { ...ami.pjsip, contacts: ami.pjsip.contacts.map((c) => (c.aor === 'site-piter' ? { ...c, status } : c)) };
}

const call = () =>
  placeCall({ host: '127.0.0.1', port: agent.agiPort, timeoutMs: 8000, callerId: { num: '101' }, channel: 'PJSIP/101-00000011', script: 'internal', extension: '301', onDial: () => ({ status: 'ANSWER' }) });

describe('agent with Asterisk Manager and config dir', () => {
  it('writes its own include files, never the admin files, and names the missing #include', async () => {
    expect(readFileSync(join(etc, 'pjsip_fedpbx.conf'), 'utf8')).toContain('[site-piter]');
    expect(readFileSync(join(etc, 'extensions_fedpbx.conf'), 'utf8')).toContain('[fedpbx-internal]');
    expect(readFileSync(join(etc, 'pjsip.conf'), 'utf8')).toBe("; the admin's own file\n[transport-udp]\ntype=transport\nprotocol=udp\nbind=0.0.0.0\n");
    expect(agent.logs.some((l) => JSON.stringify(l).includes('#include pjsip_fedpbx.conf'))).toBe(true);
    // The secrets of the own site are in the PJSIP file; nobody else's are.
    const pjsip = readFileSync(join(etc, 'pjsip_fedpbx.conf'), 'utf8');
    expect(pjsip).toContain('link-mp-SECRET');
    expect(pjsip).not.toContain('link-pk-SECRET');
    expect(pjsip).not.toContain('spb-trunk-SECRET');
  });

  it('a ContactStatus Unreachable for site-piter sends the next call to piter over the PSTN, Reachable brings the link back', async () => {
    expect((await call()).dials[0]?.rawData).toMatch(/^PJSIP\/301@site-piter,30,tTb\(fedpbx-predial\^s\^1\(moscow\/[0-9.]+\)\)$/);
    // Asterisk's own state changes with the event, so a re-read of the contacts (after login) agrees with it.
    setPiterContact('Unreachable');
    ami.event('ContactStatus', [['URI', 'sip:10.77.0.2:5060'], ['ContactStatus', 'Unreachable'], ['AOR', 'site-piter'], ['EndpointName', 'site-piter'], ['RoundtripUsec', '0']]);
    await expect.poll(async () => (await call()).dials[0]?.rawData, { timeout: 5000 }).toBe('PJSIP/88125550301@trunk-moscow-city,60,T');
    const metrics = await (await fetch(`http://127.0.0.1:${agent.metricsPort}/metrics`)).text();
    expect(metrics).toMatch(/^fedpbx_link_up\{peer_site="piter"\} 0$/m);
    expect(metrics).toMatch(/^fedpbx_connection_up\{peer="ami"\} 1$/m);
    setPiterContact('Reachable');
    ami.event('ContactStatus', [['URI', 'sip:10.77.0.2:5060'], ['ContactStatus', 'Reachable'], ['AOR', 'site-piter'], ['EndpointName', 'site-piter'], ['RoundtripUsec', '1200']]);
    await expect.poll(async () => (await call()).dials[0]?.rawData, { timeout: 5000 }).toMatch(/^PJSIP\/301@site-piter,30,tTb\(fedpbx-predial/);
  });

  it('keeps the CDR at the site with the route tags the agent set', async () => {
    ami.replayEvents('ami-09-events-call-cdr.json');
    // Whole lines only: the outbox's day file can exist before its first batch is written into it.
    const dir = join(agent.stateDir, 'cdr');
    const stored = (): string[] => {
      try {
        return readdirSync(dir).flatMap((f) => readFileSync(join(dir, f), 'utf8').split('\n').slice(0, -1));
      } catch {
        return [];
      }
    };
    await expect.poll(() => stored().length, { timeout: 5000 }).toBeGreaterThan(0);
    const cdr = JSON.parse(stored()[0] as string) as { type: string; cdrId: string; disposition: string };
    expect(cdr.type).toBe('cdr');
    expect(cdr.cdrId).not.toBe('');
  });
});

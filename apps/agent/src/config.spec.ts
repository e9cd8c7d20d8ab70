import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadAgentConfig } from './config.js';
import { writeEnrollment } from './sync/enrollment-file.js';

const pem = '-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAx6kGbmCwrOUQBf4d6mTOAz1g9H1dwZ2zQGZg1cE8cN8=\n-----END PUBLIC KEY-----';

function problems(env: Record<string, string>): string[] {
  try {
    loadAgentConfig(env);
  } catch (e) {
    if (e instanceof ConfigError) return [...e.problems];
    throw e;
  }
  return [];
}

describe('agent configuration', () => {
  it('applies defaults and parses addresses', () => {
    const c = loadAgentConfig({ FEDPBX_SITE_ID: 'moscow', FEDPBX_CONTROLLER_PUBLIC_KEY: pem });
    expect(c.FEDPBX_AGI_LISTEN).toEqual({ host: '127.0.0.1', port: 4573 });
    expect(c.FEDPBX_METRICS_LISTEN).toEqual({ host: '127.0.0.1', port: 9464 });
    expect(c.FEDPBX_AGI_MAX_SESSIONS).toBe(2000);
    expect(c.FEDPBX_METRICS_LOOP_DELAY_MS).toBe(50);
    expect(c.FEDPBX_AMI_READ_HOLD_MS).toBe(200);
  });

  it('takes the AMI read hold within 0-500 ms (0: no hold)', () => {
    expect(loadAgentConfig({ FEDPBX_SITE_ID: 'moscow', FEDPBX_CONTROLLER_PUBLIC_KEY: pem, FEDPBX_AMI_READ_HOLD_MS: '0' }).FEDPBX_AMI_READ_HOLD_MS).toBe(0);
    expect(problems({ FEDPBX_AMI_READ_HOLD_MS: '501' }).some((x) => x.startsWith('FEDPBX_AMI_READ_HOLD_MS'))).toBe(true);
    expect(problems({ FEDPBX_AMI_READ_HOLD_MS: '-1' }).some((x) => x.startsWith('FEDPBX_AMI_READ_HOLD_MS'))).toBe(true);
  });

  it('takes the event-loop delay sampling interval within 1-1000 ms', () => {
    expect(loadAgentConfig({ FEDPBX_SITE_ID: 'moscow', FEDPBX_CONTROLLER_PUBLIC_KEY: pem, FEDPBX_METRICS_LOOP_DELAY_MS: '10' }).FEDPBX_METRICS_LOOP_DELAY_MS).toBe(10);
    expect(problems({ FEDPBX_METRICS_LOOP_DELAY_MS: '0' }).some((x) => x.startsWith('FEDPBX_METRICS_LOOP_DELAY_MS'))).toBe(true);
  });

  it('accepts a PEM with literal \\n as systemd environment files carry it', () => {
    const c = loadAgentConfig({ FEDPBX_SITE_ID: 'moscow', FEDPBX_CONTROLLER_PUBLIC_KEY: pem.replace(/\n/g, '\\n') });
    expect(c.FEDPBX_CONTROLLER_PUBLIC_KEY).toBe(pem);
  });

  it('names every bad variable at once', () => {
    const p = problems({ FEDPBX_SITE_ID: 'Moscow!', FEDPBX_AGI_LISTEN: 'nowhere', FEDPBX_AMI_HOST: 'pbx' });
    expect(p.map((x) => x.split(':')[0])).toEqual([
      'FEDPBX_SITE_ID',
      'FEDPBX_AGI_LISTEN',
      'FEDPBX_CONTROLLER_PUBLIC_KEY',
      'FEDPBX_AMI_USER / FEDPBX_AMI_SECRET',
    ]);
    expect(p[2]).toContain('required');
  });
});

describe('agent configuration: WireGuard and recordings', () => {
  const base = { FEDPBX_SITE_ID: 'moscow', FEDPBX_CONTROLLER_PUBLIC_KEY: pem };

  it('leaves the mesh off and recordings alone by default', () => {
    const c = loadAgentConfig(base);
    expect(c.FEDPBX_WIREGUARD).toBe('off');
    expect(c.FEDPBX_WIREGUARD_INTERFACE).toBe('fedpbx0');
    expect(c.FEDPBX_WIREGUARD_CONFIG_DIR).toBeUndefined();
    expect(c.FEDPBX_RECORDINGS_DIR).toBeUndefined();
  });

  it('names bad mesh and recording settings', () => {
    const p = problems({ ...base, FEDPBX_WIREGUARD: 'yes', FEDPBX_WIREGUARD_INTERFACE: 'wg0; reboot', FEDPBX_WIREGUARD_CONFIG_DIR: 'wireguard', FEDPBX_RECORDINGS_DIR: '/var/spool/$(id)' });
    expect(p.map((x) => x.split(':')[0])).toEqual(['FEDPBX_WIREGUARD', 'FEDPBX_WIREGUARD_INTERFACE', 'FEDPBX_WIREGUARD_CONFIG_DIR', 'FEDPBX_RECORDINGS_DIR']);
    const c = loadAgentConfig({ ...base, FEDPBX_WIREGUARD: 'dry-run', FEDPBX_RECORDINGS_DIR: '/var/spool/asterisk/monitor' });
    expect([c.FEDPBX_WIREGUARD, c.FEDPBX_RECORDINGS_DIR]).toEqual(['dry-run', '/var/spool/asterisk/monitor']);
  });
});

describe('agent configuration from enrollment', () => {
  const enrolled = async (): Promise<string> => {
    const dir = mkdtempSync(join(tmpdir(), 'fedpbx-cfg-'));
    await writeEnrollment(dir, {
      siteId: 'kazan',
      natsUrls: ['nats://hub.example:4222', 'nats://127.0.0.1:4223'],
      natsCreds: '-----BEGIN NATS USER JWT-----\nx\n------END NATS USER JWT------\n',
      inboxPrefix: '_INBOX.fedpbx.kazan',
      controllerKeyId: 'controller-9',
      controllerPublicKey: pem,
    });
    return dir;
  };

  it('takes site, NATS, credentials and the controller key from the state dir when unset', async () => {
    const dir = await enrolled();
    const c = loadAgentConfig({ FEDPBX_STATE_DIR: dir });
    expect(c.FEDPBX_SITE_ID).toBe('kazan');
    expect(c.FEDPBX_NATS_URL).toEqual(['nats://hub.example:4222', 'nats://127.0.0.1:4223']);
    expect(c.FEDPBX_NATS_CREDS).toBe(join(dir, 'nats.creds'));
    expect(c.FEDPBX_CONTROLLER_KEY_ID).toBe('controller-9');
    expect(c.FEDPBX_CONTROLLER_PUBLIC_KEY).toBe(pem);
  });

  it('lets the environment win, and names a site that contradicts the enrollment', async () => {
    const dir = await enrolled();
    const creds = join(dir, 'other.creds');
    writeFileSync(creds, 'x');
    const c = loadAgentConfig({ FEDPBX_STATE_DIR: dir, FEDPBX_NATS_URL: 'nats://leaf:4222', FEDPBX_NATS_CREDS: creds, FEDPBX_CONTROLLER_KEY_ID: 'k2' });
    expect(c.FEDPBX_NATS_URL).toEqual(['nats://leaf:4222']);
    expect(c.FEDPBX_NATS_CREDS).toBe(creds);
    expect(c.FEDPBX_CONTROLLER_KEY_ID).toBe('k2');
    expect(problems({ FEDPBX_STATE_DIR: dir, FEDPBX_SITE_ID: 'moscow' })).toEqual([expect.stringMatching(/^FEDPBX_SITE_ID: moscow, but .*enrollment\.json enrolls this state dir as site kazan$/)]);
  });

  it('names the state dir for a broken enrollment file, and the source of a bad enrolled value', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fedpbx-cfg-'));
    writeFileSync(join(dir, 'enrollment.json'), '{"siteId": "kazan"');
    expect(problems({ FEDPBX_STATE_DIR: dir, FEDPBX_SITE_ID: 'kazan', FEDPBX_CONTROLLER_PUBLIC_KEY: pem })).toEqual([
      expect.stringMatching(/^FEDPBX_STATE_DIR: .*enrollment\.json is not JSON/),
    ]);
    const bad = await enrolled();
    writeFileSync(join(bad, 'enrollment.json'), JSON.stringify({ siteId: 'kazan', natsUrls: ['nats://x:1'], inboxPrefix: 'i', controllerKeyId: 'k', controllerPublicKey: 'not a pem' }));
    expect(problems({ FEDPBX_STATE_DIR: bad })).toEqual([expect.stringMatching(/^FEDPBX_CONTROLLER_PUBLIC_KEY \(from .*enrollment\.json\): a PEM public key/)]);
  });

  it('checks NATS URLs and the credentials file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'fedpbx-cfg-'));
    const base = { FEDPBX_STATE_DIR: dir, FEDPBX_SITE_ID: 'moscow', FEDPBX_CONTROLLER_PUBLIC_KEY: pem };
    expect(problems({ ...base, FEDPBX_NATS_URL: 'http://x:80' })).toEqual([expect.stringMatching(/^FEDPBX_NATS_URL: nats:\/\/host:port/)]);
    expect(problems({ ...base, FEDPBX_NATS_URL: 'nats://a:4222', FEDPBX_NATS_CREDS: join(dir, 'missing.creds') })).toEqual([`FEDPBX_NATS_CREDS: ${join(dir, 'missing.creds')} does not exist`]);
    const creds = join(dir, 'a.creds');
    writeFileSync(creds, 'x');
    chmodSync(creds, 0o600);
    expect(problems({ ...base, FEDPBX_NATS_CREDS: creds })).toEqual(['FEDPBX_NATS_URL: required when FEDPBX_NATS_CREDS is set']);
    expect(loadAgentConfig({ ...base, FEDPBX_NATS_URL: ' nats://a:4222 , b.example:4222' }).FEDPBX_NATS_URL).toEqual(['nats://a:4222', 'b.example:4222']);
  });
});

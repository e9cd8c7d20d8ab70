import { chmodSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { HandshakeMonitor } from './handshake-monitor.js';
import { DryRunWgRunner, ExecWgRunner, WireguardError, x25519PublicKey } from './wg-runner.js';
import { WireguardManager, type WireguardConfigInput } from './wireguard-manager.js';

const PEER_KEY = 'XGbUJtJDw9LqpRO/E1N9ZsTYp3zRlyfjoQ89y3E6byk=';
const NOW = new Date('2026-11-26T12:00:00Z');
const nowSec = NOW.getTime() / 1000;

function capture() {
  const lines: string[] = [];
  const log = pino(
    { level: 'debug' },
    new Writable({
      write(c: Buffer, _e, cb) {
        lines.push(c.toString());
        cb();
      },
    }),
  );
  return { log, lines };
}

function setup() {
  const dir = mkdtempSync(join(tmpdir(), 'fedpbx-wg-'));
  const runner = new DryRunWgRunner();
  const { log, lines } = capture();
  const wg = new WireguardManager({ runner, log, configDir: dir, now: () => NOW });
  return { dir, runner, wg, lines };
}

const config = (endpoint = '198.51.100.2:51820'): WireguardConfigInput => ({
  siteId: 'moscow',
  address: '10.77.0.1/24',
  listenPort: 51820,
  peers: [{ siteId: 'piter', publicKey: PEER_KEY, endpoint, allowedIps: ['10.77.0.2/32'], persistentKeepalive: 25 }],
});

describe('WireguardManager (dry run)', () => {
  it('makes the key pair on site once; the private key stays in a 0600 file and nowhere else', async () => {
    const { dir, runner, wg, lines } = setup();
    const first = await wg.ensureKeyPair();
    expect(first.created).toBe(true);
    const keyFile = join(dir, 'fedpbx0.key');
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
    const privateKey = readFileSync(keyFile, 'utf8').trim();
    expect(first.publicKey).toBe(x25519PublicKey(privateKey));

    const again = await wg.ensureKeyPair();
    expect(again).toEqual({ publicKey: first.publicKey, created: false });
    expect(runner.commands.filter((c) => c.args[0] === 'genkey')).toHaveLength(1);

    await wg.applyConfig(config());
    const everywhere = [JSON.stringify(runner.commands), lines.join(''), readFileSync(wg.configPath, 'utf8'), JSON.stringify(first)];
    for (const text of everywhere) expect(text).not.toContain(privateKey);
    expect(readFileSync(wg.configPath, 'utf8')).toContain(`PostUp = wg set %i private-key ${keyFile}`);
  });

  it('tightens a key file that others could read, and refuses one that holds no key', async () => {
    const { dir, wg, lines } = setup();
    const keyFile = join(dir, 'fedpbx0.key');
    writeFileSync(keyFile, 'yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=\n');
    chmodSync(keyFile, 0o644);
    const { publicKey } = await wg.ensureKeyPair();
    expect(publicKey).toBe('HIgo9xNzJMWLKASShiTqIybxZ0U3wGLiUeJ1PKf8ykw=');
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
    expect(lines.join('')).toContain('now 0600');
    writeFileSync(keyFile, 'not a key\n');
    await expect(wg.ensureKeyPair()).rejects.toMatchObject({ code: 'BAD_KEY_FILE' });
  });

  it('brings the interface up once, then syncs peers only when the text changed', async () => {
    const { runner, wg } = setup();
    await wg.ensureKeyPair();
    expect(await wg.applyConfig(config())).toEqual({ changed: true, action: 'up' });
    expect(statSync(wg.configPath).mode & 0o777).toBe(0o600);
    expect(await wg.applyConfig(config())).toEqual({ changed: false, action: 'none' });
    expect(await wg.applyConfig(config('198.51.100.9:51820'))).toEqual({ changed: true, action: 'syncconf' });
    const applied = runner.commands.filter((c) => c.args[0] !== 'show' && c.args[0] !== 'genkey' && c.args[0] !== 'pubkey');
    expect(applied).toEqual([
      { tool: 'wg-quick', args: ['up', wg.configPath] },
      { tool: 'wg', args: ['syncconf', 'fedpbx0', join(wg.configDir, 'fedpbx0.setconf')] },
    ]);
    expect(readFileSync(join(wg.configDir, 'fedpbx0.setconf'), 'utf8')).not.toContain('PostUp');
  });

  it('refuses unsafe interface names and paths, and unsafe peer values (renderer)', async () => {
    const runner = new DryRunWgRunner();
    const { log } = capture();
    expect(() => new WireguardManager({ runner, log, interfaceName: 'wg0; reboot' })).toThrow(WireguardError);
    expect(() => new WireguardManager({ runner, log, configDir: '/etc/wireguard/$(id)' })).toThrow(WireguardError);
    const { wg } = setup();
    await expect(wg.applyConfig({ ...config(), peers: [{ siteId: 'piter', publicKey: PEER_KEY, endpoint: 'host:51820\nPostUp = rm -rf /', allowedIps: ['10.77.0.2/32'] }] })).rejects.toThrow();
  });

  it('reads handshake ages: fresh is up, older than 180 s or never is down', async () => {
    const { runner, wg } = setup();
    runner.interfaceUp = true;
    const other = 'HIgo9xNzJMWLKASShiTqIybxZ0U3wGLiUeJ1PKf8ykw=';
    const never = 'yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=';
    runner.handshakes = new Map([
      [PEER_KEY, nowSec - 42],
      [other, nowSec - 181],
      [never, 0],
    ]);
    expect(await wg.handshakes()).toEqual([
      { publicKey: PEER_KEY, ageSec: 42, state: 'up' },
      { publicKey: other, ageSec: 181, state: 'down' },
      { publicKey: never, ageSec: undefined, state: 'down' },
    ]);
  });
});

describe('DryRunWgRunner journal', () => {
  it('appends the commands that would change the system, one JSON line each, never stdin', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fedpbx-wg-journal-'));
    const journal = join(dir, 'fedpbx0.dry-run.jsonl');
    const runner = new DryRunWgRunner({ journal });
    const { log } = capture();
    const wg = new WireguardManager({ runner, log, configDir: dir, now: () => NOW });
    await wg.ensureKeyPair();
    await wg.applyConfig(config());
    await wg.applyConfig(config('198.51.100.9:51820'));
    const lines = readFileSync(journal, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { tool: string; args: string[] });
    expect(lines.map(({ tool, args }) => ({ tool, args }))).toEqual([
      { tool: 'wg-quick', args: ['up', wg.configPath] },
      { tool: 'wg', args: ['syncconf', 'fedpbx0', join(dir, 'fedpbx0.setconf')] },
    ]);
    expect(statSync(journal).mode & 0o777).toBe(0o600);
    expect(readFileSync(journal, 'utf8')).not.toContain(readFileSync(wg.privateKeyPath, 'utf8').trim());
  });
});

describe('HandshakeMonitor', () => {
  it('feeds a wireguard link signal and reports changes; withdraws the signal when wg cannot be read', async () => {
    const { runner, wg } = setup();
    runner.interfaceUp = true;
    runner.handshakes = new Map([[PEER_KEY, nowSec - 10]]);
    const signals: [string, string | undefined][] = [];
    const events: unknown[] = [];
    const { log } = capture();
    const monitor = new HandshakeMonitor({
      wireguard: wg,
      log,
      peers: () => [{ siteId: 'piter', publicKey: PEER_KEY }],
      onSignal: (site, s) => signals.push([site, s]),
      onLinkStatus: (e) => events.push(e),
    });
    await monitor.poll();
    runner.handshakes = new Map([[PEER_KEY, nowSec - 400]]);
    await monitor.poll();
    await monitor.poll();
    runner.interfaceUp = false;
    await monitor.poll();
    expect(signals).toEqual([
      ['piter', 'up'],
      ['piter', 'down'],
      ['piter', 'down'],
      ['piter', undefined],
    ]);
    expect(events).toEqual([
      { type: 'link.status', peerSiteId: 'piter', state: 'up', source: 'wireguard', wireguardHandshakeAgeSec: 10 },
      { type: 'link.status', peerSiteId: 'piter', state: 'down', source: 'wireguard', wireguardHandshakeAgeSec: 400 },
    ]);
  });
});

describe('ExecWgRunner', () => {
  it('runs the tool without a shell: arguments arrive verbatim, stdin carries the secret', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fedpbx-fakewg-'));
    const fake = join(dir, 'wg');
    writeFileSync(fake, '#!/bin/sh\nfor a in "$@"; do printf "[%s]" "$a"; done\nprintf "|"\ncat\n', { mode: 0o755 });
    const runner = new ExecWgRunner({ wgPath: fake });
    const { stdout } = await runner.run('wg', ['show', 'wg0; touch /tmp/pwned', '$(id)'], 'secret-on-stdin');
    expect(stdout).toBe('[show][wg0; touch /tmp/pwned][$(id)]|secret-on-stdin');
  });

  it('maps failures to typed errors', async () => {
    await expect(new ExecWgRunner({ wgPath: '/nonexistent/wg' }).run('wg', ['show'])).rejects.toMatchObject({ code: 'NOT_INSTALLED' });
    const dir = mkdtempSync(join(tmpdir(), 'fedpbx-fakewg-'));
    const failing = join(dir, 'wg');
    writeFileSync(failing, '#!/bin/sh\necho "Unable to access interface: No such device" >&2\nexit 1\n', { mode: 0o755 });
    await expect(new ExecWgRunner({ wgPath: failing }).run('wg', ['show', 'fedpbx0'])).rejects.toMatchObject({ code: 'COMMAND_FAILED', message: expect.stringContaining('No such device') });
    const slow = join(dir, 'slow');
    writeFileSync(slow, '#!/bin/sh\nsleep 5\n', { mode: 0o755 });
    await expect(new ExecWgRunner({ wgPath: slow, timeoutMs: 100 }).run('wg', ['show'])).rejects.toMatchObject({ code: 'TIMEOUT' });
  });
});

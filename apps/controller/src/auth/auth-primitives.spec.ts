import { describe, expect, it } from 'vitest';
import { loadControllerConfig, ConfigError } from '../config.js';
import { AccessTokenCodec } from './access-token.js';
import { LoginRateLimiter } from './login-rate-limiter.js';
import { hashPassword, verifyPassword } from './password-hasher.js';
import { passwordProblems } from './password-policy.js';

describe('password hashing (scrypt)', () => {
  it('verifies the right password only, and never a malformed hash', async () => {
    const h = await hashPassword('correct horse battery');
    expect(h).toMatch(/^scrypt\$16384\$8\$1\$/);
    expect(await verifyPassword('correct horse battery', h)).toBe(true);
    expect(await verifyPassword('correct horse batterY', h)).toBe(false);
    expect(await verifyPassword('x', 'plain-text')).toBe(false);
  });
});

describe('access tokens', () => {
  it('accept their own signature until expiry; refuse tampering and other keys', () => {
    let now = 1_000_000;
    const codec = new AccessTokenCodec('k'.repeat(32), 60, () => now);
    const { token } = codec.issue('user-1', 'session-1');
    expect(codec.verify(token)).toEqual({ userId: 'user-1', sessionId: 'session-1' });
    const [tag, payload, mac] = token.split('.') as [string, string, string];
    const forged = Buffer.from(JSON.stringify({ sub: 'user-2', exp: 9e9 })).toString('base64url');
    expect(codec.verify(`${tag}.${forged}.${mac}`)).toBeUndefined();
    expect(new AccessTokenCodec('o'.repeat(32), 60, () => now).verify(token)).toBeUndefined();
    expect(codec.verify(`${tag}.${payload}`)).toBeUndefined();
    now += 61_000;
    expect(codec.verify(token)).toBeUndefined();
  });
});

describe('login rate limit', () => {
  it('blocks a key after the allowed failures until the window ends; success resets', () => {
    let now = 0;
    const l = new LoginRateLimiter(2, 10_000, () => now);
    l.fail('u');
    expect(l.retryAfterSec('u')).toBe(0);
    l.fail('u');
    expect(l.retryAfterSec('u')).toBe(10);
    now = 10_000;
    expect(l.retryAfterSec('u')).toBe(0);
    l.fail('v');
    l.succeed('v');
    l.fail('v');
    expect(l.retryAfterSec('v')).toBe(0);
  });
});

describe('controller config', () => {
  it('names the variable of every bad value', () => {
    expect(() => loadControllerConfig({ FEDPBX_TOKEN_SECRET: 'short', FEDPBX_BOOTSTRAP_ADMIN_USER: 'admin' })).toThrow(ConfigError);
    try {
      loadControllerConfig({ FEDPBX_TOKEN_SECRET: 'short', FEDPBX_BOOTSTRAP_ADMIN_USER: 'admin', DATABASE_URL: 'nope' });
    } catch (e) {
      const msg = (e as Error).message;
      expect(msg).toContain('FEDPBX_TOKEN_SECRET');
      expect(msg).toContain('FEDPBX_BOOTSTRAP_ADMIN_PASSWORD');
      expect(msg).toContain('DATABASE_URL');
    }
  });
});

describe('trusted proxies setting', () => {
  it('takes addresses and CIDR blocks, and names the setting and the entry of a bad one', () => {
    const base = { FEDPBX_TOKEN_SECRET: 'k'.repeat(32) };
    expect(loadControllerConfig({ ...base, FEDPBX_TRUSTED_PROXIES: '10.0.0.1, 192.168.0.0/16,::1,fd00::/8' }).FEDPBX_TRUSTED_PROXIES).toEqual(['10.0.0.1', '192.168.0.0/16', '::1', 'fd00::/8']);
    expect(loadControllerConfig(base).FEDPBX_TRUSTED_PROXIES).toEqual([]);
    for (const [bad, why] of <[string, string][]>[['10.0.0.0/33', 'prefix length'], ['proxy.example.net', 'not an IPv4 or IPv6 address'], ['10.0.0.1/8/2', 'not an address'], ['10.0.0.1/x', 'prefix length']]) {
      expect(() => loadControllerConfig({ ...base, FEDPBX_TRUSTED_PROXIES: bad })).toThrow(new RegExp(`FEDPBX_TRUSTED_PROXIES: "${bad.replace(/[./]/g, '\\$&')}": ${why}`));
    }
  });

  it('refuses an idle lifetime longer than the absolute one, naming both', () => {
    expect(() => loadControllerConfig({ FEDPBX_SESSION_IDLE_SEC: '7200', FEDPBX_SESSION_MAX_SEC: '3600' })).toThrow(/FEDPBX_SESSION_IDLE_SEC: 7200 is longer than FEDPBX_SESSION_MAX_SEC/);
  });
});

describe('password policy', () => {
  it('refuses short, common (also decorated) and user-name passwords; accepts a long unusual one', () => {
    expect(passwordProblems('Velvet-Otter-Ladder-42', 'alice', 12)).toEqual([]);
    expect(passwordProblems('short', 'alice', 12)).toContain('at least 12 characters');
    for (const p of ['qwertyuiop123', 'Password2024!', '!!Sunshine2025', 'trustno1trustno1', 'monkeymonkeymonkey']) expect(passwordProblems(p, 'alice', 12), p).toContain('is a common password (found in breach lists)');
    expect(passwordProblems('alice-in-wonderland-7', 'Alice', 12)).toContain('must not contain the user name');
    expect(passwordProblems('ababababababab', 'x', 12)).toContain('uses too few different characters');
  });
});

import { describe, expect, it } from 'vitest';
import { ConfigError, loadAgentConfig } from './config.js';

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

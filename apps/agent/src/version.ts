import { readFileSync } from 'node:fs';

/** The agent's version as its package.json states it (reported in heartbeats and at enrollment). */
export const AGENT_VERSION: string = (() => {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version?: unknown };
    return typeof pkg.version === 'string' ? pkg.version.slice(0, 40) : 'unknown';
  } catch {
    return 'unknown';
  }
})();

import { canonicalJson } from '@fedpbx/contracts';
import { buildSiteConfig, foundingScenario } from '@fedpbx/dialplan';
import { generateSigningKey, signBuiltConfig } from '@fedpbx/signing';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { AgentMetrics } from '../metrics/agent-metrics.js';
import { RoutingState } from '../state/routing-state.js';
import { SnapshotApplier } from '../state/snapshot-applier.js';
import { SnapshotStore } from '../state/snapshot-store.js';
import { refusedValueOf } from './config-watcher.js';

const key = generateSigningKey('controller-1');

describe('a snapshot refused for a value rule is reported as that object\'s config failure', () => {
  it('an older controller\'s snapshot with a > trunk secret: refused whole, and named trunk t-piter-city, field secret', async () => {
    const config = buildSiteConfig(foundingScenario(), 'piter');
    const i = config.trunks.findIndex((t) => t.id === 't-piter-city');
    const bad = { ...config, trunks: config.trunks.map((t, j) => (j === i ? { ...t, secret: '>old-trunk-secret' } : t)) };
    // Signed without a schema parse, as a controller built before the rule would have.
    const text = canonicalJson(signBuiltConfig(bad, 7, key, new Date('2026-12-06T09:00:00Z')).snapshot);
    const store = new SnapshotStore(mkdtempSync(join(tmpdir(), 'fedpbx-watch-')), 'piter', [key], 3);
    await store.init();
    const applier = new SnapshotApplier('piter', [key], store, new RoutingState(), new AgentMetrics(false), pino({ level: 'silent' }));
    const result = await applier.offerText(text, 'test');
    if (result.applied) throw new Error('applied a snapshot the rules refuse');
    const value = refusedValueOf(result.code, result.reason, text);
    expect(value).toMatchObject({ kind: 'render', code: 'invalid-value', object: 'trunk t-piter-city', field: 'secret' });
    expect(value?.reason).toContain('must not start with >');
    expect(JSON.stringify(value)).not.toContain('old-trunk-secret');
  });

  it('other refusals (signature, hash, site) are no config failure', () => {
    expect(refusedValueOf('bad-signature', 'snapshot revision 3 has a bad signature', '{}')).toBeUndefined();
    expect(refusedValueOf('malformed', 'snapshot is not JSON', '{')).toBeUndefined();
    expect(refusedValueOf('malformed', 'snapshot is malformed at config.trunks.0.secret: x', 'not json')).toBeUndefined();
  });
});

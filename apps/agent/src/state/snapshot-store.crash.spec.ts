// kill -9 at any moment while the agent stores snapshots: the state dir always yields a verified snapshot.
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildSiteConfig, foundingScenario } from '@fedpbx/dialplan';
import { exportPublicKey, generateSigningKey, signSnapshot } from '@fedpbx/signing';
import { describe, expect, it } from 'vitest';
import { SnapshotStore } from './snapshot-store.js';

const here = dirname(fileURLToPath(import.meta.url));

describe('snapshot store under kill -9', () => {
  it('after 12 kills at random moments of writing, the newest good snapshot is always there, and every one reported applied', async () => {
    const key = generateSigningKey('controller-1');
    const dir = mkdtempSync(join(tmpdir(), 'fedpbx-crash-'));
    const config = buildSiteConfig(foundingScenario(), 'moscow');
    const snaps = Array.from({ length: 400 }, (_, i) => signSnapshot(config, i + 1, key, new Date(Date.UTC(2026, 10, 26, 0, 0, i))));
    writeFileSync(join(dir, 'snaps.json'), JSON.stringify(snaps));
    writeFileSync(join(dir, 'pub.pem'), exportPublicKey(key.publicKey));
    const stateDir = join(dir, 'state');
    let lastSeen = 0;
    for (let round = 0; round < 12; round++) {
      const child = spawn(process.execPath, ['--conditions=@fedpbx/source', '--import', 'tsx', join(here, 'testing', 'save-loop.ts'), stateDir, join(dir, 'snaps.json'), join(dir, 'pub.pem')], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      // The newest revision the child reported applied (after its store returned), read up to the kill.
      let acked = 0;
      let buffered = '';
      child.stdout.on('data', (chunk: Buffer) => {
        const lines = (buffered + chunk.toString('utf8')).split('\n');
        buffered = lines.pop() ?? '';
        for (const line of lines) acked = Math.max(acked, Number(/^applied (\d+)$/.exec(line)?.[1] ?? 0));
      });
      await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
      await new Promise((r) => setTimeout(r, 30 + Math.floor(Math.random() * 120)));
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
      const loaded = await new SnapshotStore(stateDir, 'moscow', [key]).loadLastKnownGood();
      expect(loaded).toBeDefined();
      // Never goes back: what was in force before the kill is still there or superseded.
      expect(loaded!.snapshot.revision).toBeGreaterThanOrEqual(lastSeen);
      // Durable before reported: nothing the agent acked is lost to the kill.
      expect(loaded!.snapshot.revision).toBeGreaterThanOrEqual(acked);
      lastSeen = loaded!.snapshot.revision;
    }
    expect(lastSeen).toBeGreaterThan(1);
    // Pruned as it went (history limit 5 in the child), the old-format files none: two journal generations, or three
    // when the last kill fell between a new generation's first record and the removal of the oldest (the next
    // generation removes it).
    expect(readdirSync(join(stateDir, 'snapshots')).filter((f) => !/^applied-\d+\.journal$/.test(f))).toEqual([]);
    expect(readdirSync(join(stateDir, 'snapshots')).length).toBeLessThanOrEqual(3);
  }, 120_000);
});

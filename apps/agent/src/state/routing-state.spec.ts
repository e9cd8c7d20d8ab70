import type { SiteConfig, SiteSnapshot } from '@fedpbx/contracts';
import { buildSiteConfig, compileSite, foundingScenario, resolveRoute, type CompiledSite } from '@fedpbx/dialplan';
import { generateSigningKey, signSnapshot } from '@fedpbx/signing';
import { describe, expect, it } from 'vitest';
import { RoutingState } from './routing-state.js';

const key = generateSigningKey('controller-1');
const base = buildSiteConfig(foundingScenario(), 'piter');
const snap = (config: SiteConfig, revision: number): SiteSnapshot => signSnapshot(config, revision, key, new Date('2026-11-26T09:00:00Z'));

// Revision 2 adds phone 350 and 30,000 more (numbers 600000-629999: three slices of the table and a new sort).
const added = { ...base.extensions[0]!, id: 'e-piter-350', number: '350', displayName: 'Nina New', endpoint: undefined, sipSecret: undefined };
const many = Array.from({ length: 30_000 }, (_, i) => ({ ...added, id: `e-bulk-${i}`, number: String(600_000 + i), displayName: `Bulk ${i}` }));
const r1 = snap(base, 1);
const r2 = snap({ ...base, extensions: [...base.extensions, added, ...many] }, 2);
const call = (site: CompiledSite) => resolveRoute(site, { entry: 'internal', caller: '301', dialled: '350' });

describe('RoutingState.applyInSlices', () => {
  it('routes a call during the compile on the revision in force, and after the swap on the new one', async () => {
    const state = new RoutingState();
    state.apply(r1);
    const before = call(compileSite(r1.config, 1));
    const after = call(compileSite(r2.config, 2));
    expect(after).not.toEqual(before); // 350 is a phone only in revision 2

    const seen: { revision: number; plan: ReturnType<typeof call> }[] = [];
    let changes = 0;
    state.onChange(() => changes++);
    await state.applyInSlices(r2, async () => {
      // A call answered between two slices: the whole of revision 1, nothing of 2.
      seen.push({ revision: state.site.revision, plan: call(state.site) });
      await new Promise((r) => setImmediate(r));
    });
    expect(seen.length).toBeGreaterThanOrEqual(4);
    for (const s of seen) expect(s).toEqual({ revision: 1, plan: before });
    expect(state.revision).toBe(2);
    expect(call(state.site)).toEqual(after);
    expect(state.site.extensions.get('629999')?.displayName).toBe('Bulk 29999');
    expect(changes).toBe(1);
  });

  it('keeps the site in force when the compile fails, and takes the next snapshot', async () => {
    const state = new RoutingState();
    state.apply(r1);
    const broken = { ...r2, config: { ...r2.config, extensions: undefined } } as unknown as SiteSnapshot;
    await expect(state.applyInSlices(broken, async () => {})).rejects.toThrow();
    expect(state.revision).toBe(1);
    expect(call(state.site)).toEqual(call(compileSite(r1.config, 1)));
    await state.applyInSlices(r2, async () => {});
    expect(state.revision).toBe(2);
  });

  it('refuses a second apply while one is compiling', async () => {
    const state = new RoutingState();
    state.apply(r1);
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const first = state.applyInSlices(r2, () => held);
    expect(() => state.apply(r2)).toThrow(/serialised/);
    await expect(state.applyInSlices(r2, async () => {})).rejects.toThrow(/serialised/);
    release();
    await first;
    expect(state.revision).toBe(2);
  });

  it('takes over the number index of the site in force when only names change', async () => {
    const state = new RoutingState();
    state.apply(r2);
    const renamed = snap({ ...r2.config, extensions: r2.config.extensions.map((e) => (e.number === '600007' ? { ...e, displayName: 'Renamed' } : e)) }, 3);
    const inForce = state.site.extensions;
    await state.applyInSlices(renamed, async () => {});
    expect(state.site.extensions.sharesIndexWith(inForce)).toBe(true);
    expect(state.site.extensions.get('600007')?.displayName).toBe('Renamed');
    expect(inForce.get('600007')?.displayName).toBe('Bulk 7');
  });
});

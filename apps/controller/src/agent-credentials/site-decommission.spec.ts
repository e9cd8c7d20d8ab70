import type { Federation } from '@fedpbx/contracts';
import { foundingScenario } from '@fedpbx/dialplan';
import { describe, expect, it } from 'vitest';
import { applyChanges } from '../federation/federation-change.js';
import { decommissionChanges } from './site-decommission.service.js';

/**
 * #17 §4: a decommissioned box knew the secrets of its own links. Those links go with the site; a link between two
 * other sites that uses one of those secrets too (an admin who copied a secret around) gets a new one, or the old
 * box could still pass as either end of it.
 */
describe('decommissionChanges: link secrets the removed box knew', () => {
  const secretsOf = (fed: Federation): (string | undefined)[] => fed.links.map((l) => l.secret);

  it('removes the site\'s own links and leaves other links\' distinct secrets alone', () => {
    const fed = foundingScenario();
    const { plan, changes } = decommissionChanges(fed, 'piter');
    expect([...plan.links].sort()).toEqual(['l-moscow-piter', 'l-piter-kazan']);
    expect(plan.rotatedLinks).toEqual([]);
    expect(plan.peers).toEqual(['kazan', 'moscow']);
    const after = applyChanges(fed, changes);
    expect(after.links).toEqual([fed.links.find((l) => l.id === 'l-moscow-kazan')]);
  });

  it('gives a peer link that shares a secret with one of the site\'s links a new secret, so none the box held is left', () => {
    const base = foundingScenario();
    const held = base.links.find((l) => l.id === 'l-moscow-piter')!.secret!;
    const fed: Federation = { ...base, links: base.links.map((l) => (l.id === 'l-moscow-kazan' ? { ...l, secret: held } : l)) };
    const { plan, changes } = decommissionChanges(fed, 'piter');
    expect(plan.rotatedLinks).toEqual(['l-moscow-kazan']);
    const after = applyChanges(fed, changes);
    const rotated = after.links.find((l) => l.id === 'l-moscow-kazan')!;
    expect(rotated).toMatchObject({ a: 'moscow', b: 'kazan', mode: 'registration', registrant: 'kazan' });
    expect(rotated.secret).toEqual(expect.any(String));
    expect(rotated.secret).not.toBe(held);
    expect(secretsOf(after)).not.toContain(held);
    expect(secretsOf(after)).not.toContain(base.links.find((l) => l.id === 'l-piter-kazan')!.secret);
  });
});

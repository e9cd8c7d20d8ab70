import type { AgentStatus, Trunk } from '@fedpbx/contracts';

type Warning = AgentStatus['warnings'][number];

/**
 * The health view's warning when a site's emergency-capable trunks are down (#17 §1): emergency calls leave only
 * through the site's own emergency trunks (route-resolver.ts tries a trunk believed down last, never another
 * site), so a down one deserves an admin's attention at once - and all of them down means emergency calls fail.
 */
export function emergencyTrunkWarnings(trunks: readonly Trunk[], status: Pick<AgentStatus, 'siteId' | 'trunks'>): Warning[] {
  const own = trunks.filter((t) => t.siteId === status.siteId && t.emergency);
  if (own.length === 0) return [];
  const down = new Set(status.trunks.filter((t) => t.state === 'down').map((t) => t.trunkId));
  const downIds = own.filter((t) => down.has(t.id)).map((t) => t.id);
  if (downIds.length === 0) return [];
  const all = downIds.length === own.length;
  return [
    {
      code: 'emergency-trunk-down',
      message: all
        ? `every emergency-capable trunk of ${status.siteId} is down (${downIds.join(', ')}): its emergency calls are still tried there, but may fail`
        : `emergency-capable trunk ${downIds.join(', ')} of ${status.siteId} is down; ${own.length - downIds.length} other remains`,
      trunkIds: downIds,
    },
  ];
}

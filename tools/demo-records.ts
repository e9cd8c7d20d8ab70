/**
 * The demo's call records, told per sample call. Asterisk writes one CDR per Dial attempt (main/cdr.c), so a call
 * that tried a route, was refused and went on leaves a FAILED (or BUSY, NO ANSWER) record beside the answered one -
 * listed alone, one under the other, that reads as a failed call. Here each record stands under the call it belongs
 * to (site and uniqueid: Asterisk's own key, with the sequence as the attempt's order), numbered as that call's
 * attempt, and an attempt that did not answer says what it was and that the call went on.
 */

/** A CDR as `GET /api/v1/cdrs` answers it (the fields the demo prints). */
export interface DemoCdr {
  readonly siteId: string;
  readonly uniqueId: string;
  /** `<uniqueid>:<sequence>` (the agent's cdrIdOf): the sequence orders one channel's records. */
  readonly cdrId: string;
  readonly src?: string;
  readonly dst?: string;
  readonly disposition?: string;
  readonly routeKind?: string;
  readonly targetSiteId?: string;
  readonly trunkId?: string;
}

/** A sample call the demo placed: where, the uniqueid of its channel, and why an attempt of it is refused (if one is). */
export interface DemoSampleCall {
  readonly title: string;
  readonly siteId: string;
  readonly uniqueId: string | undefined;
  /** Said of the sample's attempts that did not answer: what made them fail (the demo's far end, not fedpbx). */
  readonly refusedBecause?: string;
}

export function callRecordLines(samples: readonly DemoSampleCall[], cdrs: readonly DemoCdr[]): string[] {
  const lines: string[] = [];
  const shown = new Set<DemoCdr>();
  for (const s of samples) {
    const own = cdrs.filter((c) => c.siteId === s.siteId && s.uniqueId !== undefined && c.uniqueId === s.uniqueId).sort((a, b) => sequenceOf(a) - sequenceOf(b));
    own.forEach((c) => shown.add(c));
    lines.push(`  ${s.title}`);
    if (own.length === 0) lines.push('    (no record: Asterisk writes none for a call that never dialled)');
    own.forEach((c, i) => {
      const attempt = own.length > 1 ? `attempt ${i + 1} of ${own.length}` : '';
      const later = i < own.length - 1;
      const note =
        c.disposition === 'ANSWERED' || !later
          ? attempt
          : `${attempt}: not answered${s.refusedBecause !== undefined ? ` - ${s.refusedBecause}` : ''}; the call went on to attempt ${i + 2}, not a failed call`;
      lines.push(`    ${recordLine(c)}${note === '' ? '' : `   (${note})`}`);
    });
  }
  const others = cdrs.filter((c) => !shown.has(c));
  if (others.length > 0) {
    lines.push('  other records');
    for (const c of others) lines.push(`    ${recordLine(c)}`);
  }
  return lines;
}

function recordLine(c: DemoCdr): string {
  const route = `${c.routeKind ?? '-'}${c.targetSiteId !== undefined ? ` to ${c.targetSiteId}` : ''}${c.trunkId !== undefined ? ` via ${c.trunkId}` : ''}`;
  return `${c.siteId.padEnd(7)} ${String(c.src ?? '').padEnd(5)} -> ${String(c.dst ?? '').padEnd(12)} ${String(c.disposition ?? '').padEnd(9)} ${route}`;
}

function sequenceOf(c: DemoCdr): number {
  const n = Number(c.cdrId.slice(c.cdrId.lastIndexOf(':') + 1));
  return Number.isFinite(n) ? n : 0;
}

import type { DialLineBuilder, DialTarget as AsteriskDialTarget } from '@fedpbx/asterisk';
import type { DialTarget } from '@fedpbx/dialplan';

/**
 * What to put in Dial for a resolver attempt or a flow's target. Only whitelisted values reach it: endpoint names
 * from the snapshot (`site-<id>`, `trunk-<name>`, phone endpoints) and numbers the resolver produced; `dialData`
 * checks them once more.
 */
export function toAsteriskTarget(target: DialTarget): AsteriskDialTarget {
  switch (target.kind) {
    case 'endpoint':
      return { tech: 'PJSIP', resource: target.endpoint };
    case 'site':
    case 'trunk':
      return { tech: 'PJSIP', resource: target.number, host: target.endpoint };
  }
}

/** {@link toAsteriskTarget}'s target added to a Dial line being built, without the target object. */
export function addDialTarget(line: DialLineBuilder, target: DialTarget): DialLineBuilder {
  return target.kind === 'endpoint' ? line.pjsip(target.endpoint, undefined) : line.pjsip(target.number, target.endpoint);
}

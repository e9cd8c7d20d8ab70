import type { CallFlow, ClassOfService, Extension, NumberRange, Site } from '@fedpbx/contracts';
import type { NumberTarget } from '../numbering/numbering-plan.js';
import type { NumberDestination, NumberingContext } from './federation-checks.js';
import type { FederationIssue, ObjectRef } from './federation-issues.js';
import { IssueList, siteRef } from './issue-list.js';

/** The numbers one site hands out, and what checking them found. */
export interface SiteNumbers {
  /** The site's extensions, in federation order. */
  readonly extensions: readonly Extension[];
  readonly issues: readonly FederationIssue[];
  /** The numbers of the site's extensions (what the call-flow validator asks about). */
  readonly extensionNumbers: ReadonlySet<string>;
  /** The numbers of the site's extensions with voicemail: the mailboxes of its rendered voicemail include. */
  readonly mailboxNumbers: ReadonlySet<string>;
}

/**
 * Everything {@link checkSiteNumbers} reads besides the site's extensions: one site's slice of the
 * {@link NumberingContext}. Two slices that are {@link sameSiteInputs} give the same result for the same
 * extensions, so a validation after a change elsewhere (a range at another site, a route) keeps the site's result.
 */
export interface SiteInputs {
  readonly siteId: string;
  /** The site (undefined when extensions name a site that does not exist). */
  readonly site: Site | undefined;
  readonly emergencyNumbers: readonly string[];
  readonly emergencyTrunks: number;
  /** The federation's classes of service (one map for every site of a context). */
  readonly classesOfService: ReadonlyMap<string, ClassOfService>;
  /** The site's own ranges as the plan holds them: `rangeAt` looks only at these. */
  readonly ranges: readonly NumberRange[];
  readonly rangeAt: (number: string) => NumberRange | undefined;
  readonly numberedFlows: readonly CallFlow[];
  readonly numberDestinations: readonly NumberDestination[];
}

const NONE: readonly never[] = [];

/** The site's slice of a context. */
export function siteInputs(ctx: NumberingContext, siteId: string): SiteInputs {
  return {
    siteId,
    site: ctx.sites.get(siteId),
    emergencyNumbers: ctx.emergencyNumbers.get(siteId) ?? NONE,
    emergencyTrunks: ctx.emergencyTrunks.get(siteId) ?? 0,
    classesOfService: ctx.classesOfService,
    ranges: ctx.plan.ownRanges(siteId),
    rangeAt: (number) => ctx.plan.rangeAt(siteId, number),
    numberedFlows: ctx.numberedFlows.get(siteId) ?? NONE,
    numberDestinations: ctx.numberDestinations.get(siteId) ?? NONE,
  };
}

/**
 * Whether two slices are the same input to {@link checkSiteNumbers}: the very same site, flow and route objects
 * and ranges (federations are never mutated: a change makes new objects), equal emergency numbers and trunk
 * counts, the same class-of-service map, and inbound routes leading to the same numbers the same way.
 */
export function sameSiteInputs(a: SiteInputs, b: SiteInputs): boolean {
  return (
    a.siteId === b.siteId &&
    a.site === b.site &&
    a.emergencyTrunks === b.emergencyTrunks &&
    a.classesOfService === b.classesOfService &&
    sameList(a.emergencyNumbers, b.emergencyNumbers, (x, y) => x === y) &&
    sameList(a.ranges, b.ranges, (x, y) => x === y) &&
    sameList(a.numberedFlows, b.numberedFlows, (x, y) => x === y) &&
    sameList(a.numberDestinations, b.numberDestinations, (x, y) => x.route === y.route && x.number === y.number && sameTarget(x.target, y.target))
  );
}

function sameList<T>(a: readonly T[], b: readonly T[], same: (x: T, y: T) => boolean): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (!same(a[i] as T, b[i] as T)) return false;
  return true;
}

function sameTarget(a: NumberTarget | undefined, b: NumberTarget | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return a.kind === b.kind && a.siteId === b.siteId && a.number === b.number && (a.kind === 'prefix-unassigned' || a.range === (b as typeof a).range) && ('prefix' in a ? a.prefix : undefined) === ('prefix' in b ? b.prefix : undefined);
}

/**
 * The checks that depend on one site's extensions and on nothing else that changes with them: numbers used
 * twice (by extensions, then by the site's numbered flows, in federation order: the first one keeps the
 * number), numbers outside the site's ranges, classes of service, extensions on emergency numbers, an own
 * emergency-capable trunk once the site has extensions, and inbound
 * routes of the site that lead to a number nobody has. An extension naming a site that does not exist is
 * only reported as such (`siteId` is then that missing site).
 *
 * `extensions` must be exactly the federation's extensions whose `siteId` is `siteId`, in federation order.
 */
export function checkSiteNumbers(inputs: SiteInputs, extensions: readonly Extension[]): SiteNumbers {
  const { siteId, site } = inputs;
  const out = new IssueList();
  const extensionNumbers = new Set<string>();
  const mailboxNumbers = new Set<string>();
  for (const e of extensions) {
    extensionNumbers.add(e.number);
    if (e.voicemail) mailboxNumbers.add(e.number);
  }
  if (site === undefined) {
    for (const e of extensions) {
      out.error('dangling-reference', `extension ${e.id} names site "${siteId}", which does not exist`, [{ type: 'extension', id: e.id, siteId }, siteRef(siteId)]);
    }
    return { extensions, issues: out.issues, extensionNumbers, mailboxNumbers };
  }

  const claimed = new Map<string, ObjectRef>();
  const claim = (number: string, ref: ObjectRef, what: string): void => {
    const prior = claimed.get(number);
    if (prior !== undefined) {
      out.error(prior.type === 'extension' && ref.type === 'extension' ? 'duplicate-extension' : 'flow-number-conflict', `${number} at ${siteId} is used twice (${prior.type} ${prior.id} and ${what} ${ref.id})`, [prior, ref]);
      return;
    }
    claimed.set(number, ref);
    if (inputs.rangeAt(number) === undefined) {
      out.error('extension-outside-range', `${what} ${number} is outside every range of ${siteId}`, [ref, siteRef(siteId)]);
    }
  };

  // The pjsip renderer writes endpoint/auth/aor `<endpoint or number>` per phone: a name twice would be refused
  // there (DUPLICATE_OBJECT) and the site's include files would stop following its snapshots.
  const endpoints = new Map<string, Extension>();
  for (const e of extensions) {
    const name = e.endpoint ?? e.number;
    const prior = endpoints.get(name);
    if (prior === undefined) endpoints.set(name, e);
    else if (prior.number !== e.number) {
      // (The same number twice is reported as duplicate-extension already.)
      out.error('duplicate-endpoint', `extensions ${prior.id} and ${e.id} at ${siteId} would both be PJSIP endpoint ${name}`, [
        { type: 'extension', id: prior.id, siteId },
        { type: 'extension', id: e.id, siteId },
      ]);
    }
  }

  const ceiling = new Set(site.classOfServiceCeiling);
  const aboveCeiling = new Map<string, string[]>();
  for (const e of extensions) {
    const ref: ObjectRef = { type: 'extension', id: e.id, siteId };
    claim(e.number, ref, 'extension');
    if (e.classOfServiceId === undefined) continue;
    const c = inputs.classesOfService.get(e.classOfServiceId);
    if (c === undefined) {
      out.error('dangling-reference', `extension ${e.number} at ${siteId} names class of service "${e.classOfServiceId}", which does not exist`, [ref, { type: 'classOfService', id: e.classOfServiceId }]);
      continue;
    }
    let above = aboveCeiling.get(c.id);
    if (above === undefined) aboveCeiling.set(c.id, (above = c.allow.filter((k) => !ceiling.has(k))));
    if (above.length > 0) {
      out.warning('class-of-service-above-ceiling', `extension ${e.number} at ${siteId} has class ${c.name}, above the site's ceiling (${above.join(', ')} will not be allowed)`, [ref, { type: 'classOfService', id: c.id }]);
    }
  }
  for (const f of inputs.numberedFlows) claim(f.number as string, { type: 'callFlow', id: f.id, siteId }, 'call flow');

  for (const n of inputs.emergencyNumbers) {
    const used = claimed.get(n);
    if (used !== undefined) out.error('emergency-extension', `${n} is an emergency number at ${siteId}: ${used.type} ${used.id} can never be reached`, [used, siteRef(siteId)]);
  }
  // Emergency calls leave only through the site's own trunks (never through another site, whose carrier would
  // send them to the wrong emergency centre). A site whose phones can dial must have one; a site still being set
  // up (no extension yet) is only warned about.
  if (inputs.emergencyTrunks === 0) {
    if (extensions.length > 0) out.error('no-emergency-trunk', `site ${siteId} has extensions but no emergency-capable trunk of its own: its emergency calls could not be placed`, [siteRef(siteId)]);
    else out.warning('no-emergency-trunk', `site ${siteId} has no emergency-capable trunk of its own yet: add one before its first extension`, [siteRef(siteId)]);
  }

  for (const { route, number, target } of inputs.numberDestinations) {
    // A number of the site's own plan must be handed out here; another site's number is that site's business.
    if (route.destination.type === 'voicemail') {
      // VoiceMail(<n>@fedpbx) runs at this site: the mailbox is one of this site's extensions with voicemail
      // (voicemail_fedpbx.conf), never a number of another site (app_voicemail: "No entry in voicemail config file").
      if (!mailboxNumbers.has(number)) {
        const ext = extensions.find((e) => e.number === number);
        out.error(
          'unknown-mailbox',
          ext === undefined
            ? `inbound route ${route.id} leads to mailbox ${number}, which is no extension of ${siteId}`
            : `inbound route ${route.id} leads to mailbox ${number}, but extension ${ext.id} has no voicemail`,
          [{ type: 'inboundRoute', id: route.id, siteId }, ...(ext !== undefined ? [{ type: 'extension' as const, id: ext.id, siteId }] : [])],
        );
      }
      continue;
    }
    const assigned = target?.kind === 'own' ? claimed.has(target.number) : target?.kind === 'site';
    if (!assigned) out.error('dangling-reference', `inbound route ${route.id} leads to ${number}, which is not assigned`, [{ type: 'inboundRoute', id: route.id, siteId }]);
  }
  return { extensions, issues: out.issues, extensionNumbers, mailboxNumbers };
}

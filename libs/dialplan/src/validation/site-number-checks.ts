import type { Extension } from '@fedpbx/contracts';
import type { NumberingContext } from './federation-checks.js';
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
 * The checks that depend on one site's extensions and on nothing else that changes with them: numbers used
 * twice (by extensions, then by the site's numbered flows, in federation order: the first one keeps the
 * number), numbers outside the site's ranges, classes of service, extensions on emergency numbers, an own
 * emergency-capable trunk once the site has extensions, and inbound
 * routes of the site that lead to a number nobody has. An extension naming a site that does not exist is
 * only reported as such (`siteId` is then that missing site).
 *
 * `extensions` must be exactly the federation's extensions whose `siteId` is `siteId`, in federation order.
 */
export function checkSiteNumbers(ctx: NumberingContext, siteId: string, extensions: readonly Extension[]): SiteNumbers {
  const out = new IssueList();
  const extensionNumbers = new Set<string>();
  const mailboxNumbers = new Set<string>();
  for (const e of extensions) {
    extensionNumbers.add(e.number);
    if (e.voicemail) mailboxNumbers.add(e.number);
  }
  const site = ctx.sites.get(siteId);
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
    if (ctx.plan.rangeAt(siteId, number) === undefined) {
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
    const c = ctx.classesOfService.get(e.classOfServiceId);
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
  for (const f of ctx.numberedFlows.get(siteId) ?? []) claim(f.number as string, { type: 'callFlow', id: f.id, siteId }, 'call flow');

  for (const n of ctx.emergencyNumbers.get(siteId) ?? []) {
    const used = claimed.get(n);
    if (used !== undefined) out.error('emergency-extension', `${n} is an emergency number at ${siteId}: ${used.type} ${used.id} can never be reached`, [used, siteRef(siteId)]);
  }
  // Emergency calls leave only through the site's own trunks (never through another site, whose carrier would
  // send them to the wrong emergency centre). A site whose phones can dial must have one; a site still being set
  // up (no extension yet) is only warned about.
  if ((ctx.emergencyTrunks.get(siteId) ?? 0) === 0) {
    if (extensions.length > 0) out.error('no-emergency-trunk', `site ${siteId} has extensions but no emergency-capable trunk of its own: its emergency calls could not be placed`, [siteRef(siteId)]);
    else out.warning('no-emergency-trunk', `site ${siteId} has no emergency-capable trunk of its own yet: add one before its first extension`, [siteRef(siteId)]);
  }

  for (const { route, number, target } of ctx.numberDestinations.get(siteId) ?? []) {
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

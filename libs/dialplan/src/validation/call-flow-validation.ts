import type { Federation } from '@fedpbx/contracts';
import { validateCallFlows } from '../flows/index.js';
import { NumberingPlan } from '../numbering/numbering-plan.js';
import type { FederationIssue } from './federation-issues.js';

/** The numbers of a site's extensions (including a site id that no site has, if extensions name it). */
export type ExtensionNumbers = (siteId: string) => ReadonlySet<string> | undefined;

/** {@link ExtensionNumbers} read straight from the federation's extensions. */
export function extensionNumbersOf(fed: Federation): ExtensionNumbers {
  const numbers = new Map<string, Set<string>>();
  for (const e of fed.extensions) {
    let set = numbers.get(e.siteId);
    if (set === undefined) numbers.set(e.siteId, (set = new Set()));
    set.add(e.number);
  }
  return (siteId) => numbers.get(siteId);
}

/** The mailboxes of each site (numbers of its extensions with voicemail), read straight from the federation. */
export function mailboxNumbersOf(fed: Federation): ExtensionNumbers {
  return extensionNumbersOf({ ...fed, extensions: fed.extensions.filter((e) => e.voicemail) });
}

/**
 * The flow validator, fed with the whole federation: a flow's dial targets and mailboxes are judged through the
 * numbering plan (a ring group may ring a number at another site). Flow issues are reported as `call-flow`
 * federation issues whose `detail` is the flow validator's own code. `numbers` must be the extension numbers of
 * `fed` (whole-federation validation passes the ones it keeps per site, so they are not gathered twice).
 */
export function validateFederationFlows(fed: Federation, numbers?: ExtensionNumbers, mailboxes?: ExtensionNumbers): FederationIssue[] {
  if (fed.callFlows.length === 0) return [];
  const plan = new NumberingPlan(fed.sites, fed.numberRanges);
  const numbersAt = numbers ?? extensionNumbersOf(fed);
  const extensionExists = (siteId: string, number: string): boolean => {
    const target = plan.classify(siteId, number);
    if (target === undefined || target.kind === 'prefix-unassigned') return false;
    return numbersAt(target.siteId)?.has(target.number) === true;
  };
  // A voicemail step runs VoiceMail(<n>@fedpbx) at the flow's own site: the mailbox must be in that site's
  // voicemail include, i.e. an extension of that site with voicemail (not any number the plan reaches).
  const mailboxesAt = mailboxes ?? mailboxNumbersOf(fed);
  const mailboxExists = (siteId: string, number: string): boolean => mailboxesAt(siteId)?.has(number) === true;
  const siteOf = new Map(fed.callFlows.map((f) => [f.id, f.siteId]));
  return validateCallFlows(fed.callFlows, { extensionExists, mailboxExists }).map((i) => {
    const siteId = siteOf.get(i.flowId);
    return {
      code: 'call-flow',
      severity: i.severity,
      detail: i.code,
      message: `call flow ${i.flowId}${i.nodeId !== undefined ? `, node ${i.nodeId}` : ''}: ${i.message}`,
      objects: [{ type: 'callFlow', id: i.flowId, ...(siteId !== undefined ? { siteId } : {}) }],
    };
  });
}

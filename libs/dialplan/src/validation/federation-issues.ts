/** The kinds of objects an issue can name. */
export type ObjectType =
  | 'site'
  | 'numberRange'
  | 'extension'
  | 'trunk'
  | 'link'
  | 'outboundRoute'
  | 'inboundRoute'
  | 'callFlow'
  | 'classOfService';

export interface ObjectRef {
  readonly type: ObjectType;
  readonly id: string;
  readonly siteId?: string;
}

export const FEDERATION_ISSUE_CODES = [
  'duplicate-id',
  'dangling-reference',
  'prefix-required-without-prefix',
  'prefix-conflict',
  'range-overlap',
  'prefixed-number-collision',
  'range-hidden-from-site',
  'range-shadowed-by-pattern',
  'invalid-pattern',
  'emergency-number-in-range',
  'emergency-extension',
  'site-without-emergency-number',
  'no-emergency-trunk',
  'range-meets-prefix',
  'risky-pattern',
  'extension-outside-range',
  'duplicate-extension',
  'flow-number-conflict',
  'did-owned-twice',
  'duplicate-link',
  'duplicate-vpn-address',
  'duplicate-wireguard-key',
  'site-unreachable',
  'class-of-service-above-ceiling',
  'call-flow',
  /** A flow or inbound route leads to a mailbox its site does not have (no extension there with voicemail). */
  'unknown-mailbox',
  /** Two phones of a site would get the same PJSIP endpoint name (`endpoint`, or the number when it has none). */
  'duplicate-endpoint',
  /** Survivability (#19 §2): every emergency-capable trunk of a site points at another site's PBX. */
  'emergency-depends-on-site',
  /** Survivability: a call flow rings only numbers of other sites. */
  'flow-only-remote-targets',
  /** Survivability: an outbound route has no trunk at some site it serves. */
  'route-only-remote-trunks',
] as const;
export type FederationIssueCode = (typeof FEDERATION_ISSUE_CODES)[number];

/**
 * One finding of whole-federation validation, machine-readable: it names every object involved (both parties of
 * a conflict) and, for numbering conflicts, the span of numbers they fight over.
 */
export interface FederationIssue {
  readonly code: FederationIssueCode;
  readonly severity: 'error' | 'warning';
  readonly message: string;
  readonly objects: readonly ObjectRef[];
  readonly span?: { readonly from: string; readonly to: string };
  /** A sub-code for `call-flow` issues (from the flow validator). */
  readonly detail?: string;
}

export interface ValidationResult {
  readonly ok: boolean;
  readonly errors: readonly FederationIssue[];
  readonly warnings: readonly FederationIssue[];
}

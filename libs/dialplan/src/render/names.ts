/**
 * Names fedpbx gives to the objects it generates, shared by the renderers and the agent (which dials
 * `PJSIP/<number>@site-piter` or `PJSIP/<number>@trunk-moscow-city` and enters the contexts below).
 */
import { RESERVED_ENDPOINT_PREFIXES, type Extension } from '@fedpbx/contracts';

/** The include file for pjsip.conf (`#include pjsip_fedpbx.conf`). */
export const PJSIP_FILE_NAME = 'pjsip_fedpbx.conf';
/** The include file for extensions.conf (`#include extensions_fedpbx.conf`). */
export const EXTENSIONS_FILE_NAME = 'extensions_fedpbx.conf';

/** The include file for voicemail.conf (`#include voicemail_fedpbx.conf`): the mailboxes of the site's extensions. */
export const VOICEMAIL_FILE_NAME = 'voicemail_fedpbx.conf';

/**
 * The voicemail.conf context (section) of fedpbx's mailboxes. The agent's `VoiceMail(<mailbox>@fedpbx,...)` and the
 * fallback dialplan's use the same one; it is not `default`, so the admin's own mailboxes there stay apart.
 */
export const VOICEMAIL_CONTEXT = 'fedpbx';

/** The PJSIP transport the inter-site endpoints and registrations use. */
export const FEDERATION_TRANSPORT = 'fedpbx-transport';

/** Dialplan contexts of extensions_fedpbx.conf. */
export const FEDPBX_CONTEXTS = {
  /** Calls from the site's own phones (phone endpoints' `context=`). */
  internal: 'fedpbx-internal',
  /** Calls arriving from another site over an inter-site link. */
  fromSites: 'fedpbx-from-sites',
  /** Calls arriving from a PSTN trunk of the site. */
  fromPstn: 'fedpbx-from-pstn',
  /** Used only when the agent did not take a call: dials the site's own extensions directly. */
  fallback: 'fedpbx-fallback',
  /**
   * The same plus the other sites' ranges (flat and by prefix) over the inter-site links, as the agent dials them;
   * includes `fedpbx-fallback`. Phones' and PSTN calls fall back here; calls from other sites only at the hub.
   */
  fallbackSites: 'fedpbx-fallback-sites',
  /** The same for PSTN calls: the site's simple inbound routes (DID -> extension). */
  fallbackPstn: 'fedpbx-fallback-pstn',
  /** Subroutine that starts a MixMonitor recording; rendered when the site's recording policy asks for it. */
  record: 'fedpbx-record',
  /**
   * Pre-dial handler the agent names in Dial's `b()` option for calls to other sites: runs on the outgoing
   * channel and adds the {@link FEDPBX_CALL_HEADER} header with the federation call id (its ARG1).
   */
  preDial: 'fedpbx-predial',
  /**
   * Busy-lamp hints only (`exten => <n>,hint,<device>`), the phones' `subscribe_context`. Not in fedpbx-internal: with
   * the trie matcher (extensions.conf `extenpatternmatchnew=yes`, an admin's choice; pbx.c pbx_find_extension) a
   * literal `305` that has only a hint priority is the best match for a dialled 305, and its missing priority 1 fails
   * the call instead of reaching the catch-all (the default matcher walks on to the next match; we rely on neither).
   */
  hints: 'fedpbx-hints',
} as const;

/**
 * SIP header carrying the federation call id (`<origin site>/<linkedid there>`) on calls between sites, read by
 * the receiving agent only on calls from `site-*` endpoints (never from a trunk) and validated there.
 */
export const FEDPBX_CALL_HEADER = 'X-Fedpbx-Call';

/** The FastAGI script names (`agi://host:port/<entry>`) of the three entry contexts. */
export const AGI_ENTRIES = {
  internal: 'internal',
  fromSites: 'from-sites',
  fromPstn: 'from-pstn',
} as const;

/** Prefixes of the object names fedpbx generates; a phone endpoint may not use them. */
export const RESERVED_NAME_PREFIXES = RESERVED_ENDPOINT_PREFIXES;

/** Endpoint / aor / identify / registration name for the link to another site. */
export function siteEndpointName(siteId: string): string {
  return `site-${siteId}`;
}

/** Endpoint / aor / auth / identify / registration name of a PSTN trunk. */
export function trunkEndpointName(trunkName: string): string {
  return `trunk-${trunkName}`;
}

/** The PJSIP endpoint (and aor, auth) name of a phone: its `endpoint`, or its number. */
export function phoneEndpointName(extension: Pick<Extension, 'number' | 'endpoint'>): string {
  return extension.endpoint ?? extension.number;
}

/** `VoiceMail` data's mailbox: `<mailbox>@fedpbx` (the context of voicemail_fedpbx.conf). `mailbox` must be digits. */
export function voicemailMailbox(mailbox: string): string {
  return `${mailbox}@${VOICEMAIL_CONTEXT}`;
}

/** The custom device state (func_devstate.c, `Custom:<name>`) that shows `number` of another site here. */
export function remotePresenceDevice(siteId: string, number: string): string {
  return `Custom:fedpbx-${siteId}-${number}`;
}

/** The device a phone's hint watches: its PJSIP endpoint (chan_pjsip device state `PJSIP/<endpoint>`). */
export function phoneDevice(extension: Pick<Extension, 'number' | 'endpoint'>): string {
  return `PJSIP/${phoneEndpointName(extension)}`;
}

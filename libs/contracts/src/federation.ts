import { z } from 'zod';
import { CallFlow } from './call-flow.js';
import { DisplayName, nameOf, textOf } from './names.js';
import { CallClass, ClassOfService, RestrictableCallClass } from './class-of-service.js';
import {
  AsteriskName,
  Codec,
  DialString,
  Digits,
  ExtensionPatternText,
  HostName,
  IpAddress,
  ObjectId,
  Port,
  SiteId,
} from './primitives.js';
import { PresenceSettings } from './presence.js';
import { EmailAddress, PhoneEndpointName, Secret, SipUser, TimeZoneName, VoicemailPin, WireguardKey } from './config-values.js';

/** A site dial prefix: the caller dials prefix + number; the receiving site sees the number without it. */
export const SitePrefix = z.string().regex(/^[0-9]{1,4}$/, 'a site prefix is 1-4 digits');

/**
 * The default port of a site's federation SIP transport (`fedpbx-transport`). Not 5060: the stock pjsip.conf binds
 * `0.0.0.0:5060`, which takes 5060 on every address, and a second transport on the same port at another address makes
 * res_pjsip put that other address into Via/Contact/SDP (deploy/asterisk/README.md, "Beside the admin's transports").
 */
export const DEFAULT_SIP_PORT = 5070;

export const SiteNetwork = z.strictObject({
  /** The site's address inside the site-to-site VPN (WireGuard tunnel address), used by IP-identified links. */
  vpnAddress: IpAddress.optional(),
  /** Where other sites reach this site's SIP (defaults to vpnAddress). */
  sipHost: HostName.optional(),
  /** The port of the site's federation transport; no transport of the admin's pjsip.conf may use it. */
  sipPort: Port.default(DEFAULT_SIP_PORT),
  /** WireGuard: this site's public endpoint (host:port) when it accepts tunnels, and its public key. */
  wireguardEndpoint: z.string().regex(/^[A-Za-z0-9.-]{1,253}:[0-9]{1,5}$/).optional(),
  wireguardPublicKey: WireguardKey.optional(),
});
export type SiteNetwork = z.infer<typeof SiteNetwork>;

export const RecordingPolicy = z.strictObject({
  /** Record calls between sites, both directions (founding scenario). */
  interSite: z.boolean().default(false),
  /** Record calls to and from the PSTN. */
  external: z.boolean().default(false),
  retentionDays: z.number().int().min(1).max(3650).default(90),
});
export type RecordingPolicy = z.infer<typeof RecordingPolicy>;

export const Site = z.strictObject({
  id: SiteId,
  name: nameOf(80),
  /**
   * Site dial prefix (set by head office only). prefix + number always reaches this site from any other site;
   * the receiving site sees the number without it.
   */
  prefix: SitePrefix.optional(),
  /**
   * The site's ranges are private: other sites reach them only as prefix + number. Needed when its plan
   * overlaps another site's (founding scenario, "Overlapping numbering"). Requires `prefix`.
   */
  prefixRequired: z.boolean().default(false),
  timezone: TimeZoneName.default('UTC'),
  /** The class of service an extension gets when it names none. */
  defaultClassOfServiceId: ObjectId.optional(),
  /** The most a site admin may grant at this site (set by head office). */
  classOfServiceCeiling: z.array(RestrictableCallClass).default(['internal', 'local', 'national', 'international', 'premium']),
  /** Numbers that always go out through a local trunk, whatever the class of service. */
  emergencyNumbers: z.array(DialString).max(16).default(['112']),
  /** The site's main (attendant) number on the PSTN: the last resort to reach it when its link is down. */
  mainNumber: DialString.optional(),
  network: SiteNetwork.default({ sipPort: DEFAULT_SIP_PORT }),
  recording: RecordingPolicy.default({ interSite: false, external: false, retentionDays: 90 }),
  /** Inter-site ring timeout used for attempts toward this site. */
  ringTimeoutSec: z.number().int().min(5).max(300).default(30),
  /** Busy lamps: which extensions other sites may see, which remote ones get hints here (absent: share all, show none). */
  presence: PresenceSettings.optional(),
});
export type Site = z.infer<typeof Site>;

export const NumberRange = z
  .strictObject({
    id: ObjectId,
    siteId: SiteId,
    from: Digits,
    to: Digits,
    /**
     * PSTN numbers of this range (a DID block), written as the federation's sites dial them: extension N is
     * reachable from the PSTN as pstnPrefix + N.
     * Used to reach the site's extensions through the PSTN when the inter-site link is down.
     */
    pstnPrefix: z.string().regex(/^\+?[0-9]{1,15}$/).optional(),
    description: textOf(200).optional(),
  })
  .refine((r) => r.from.length === r.to.length, { message: 'from and to must have the same number of digits', path: ['to'] })
  .refine((r) => r.from <= r.to, { message: 'from must not be greater than to', path: ['to'] });
export type NumberRange = z.infer<typeof NumberRange>;

export const Extension = z.strictObject({
  id: ObjectId,
  siteId: SiteId,
  number: Digits,
  displayName: DisplayName,
  classOfServiceId: ObjectId.optional(),
  /** PJSIP endpoint name of the phone; defaults to the number. */
  endpoint: PhoneEndpointName.optional(),
  /** SIP password of the phone: generated, write-only through the API, present only in the own site's snapshot. */
  sipSecret: Secret.optional(),
  /** A mailbox in the site's rendered voicemail include (`voicemail_fedpbx.conf`); flows and routes may target it. */
  voicemail: z.boolean().default(false),
  /** The mailbox PIN: write-only through the API like `sipSecret`, present only in the own site's snapshot. */
  voicemailPin: VoicemailPin.optional(),
  /** Where app_voicemail e-mails new messages (optional). */
  email: EmailAddress.optional(),
  ringTimeoutSec: z.number().int().min(5).max(300).default(20),
}).refine((e) => !e.voicemail || e.voicemailPin !== undefined, {
  // An empty voicemail.conf password means "no password" to app_voicemail (vm_authenticate): never rendered.
  message: 'an extension with voicemail needs a voicemailPin (the API generates one when a create leaves it out)',
  path: ['voicemailPin'],
});
export type Extension = z.infer<typeof Extension>;

const TrunkFields = z.strictObject({
  id: ObjectId,
  siteId: SiteId,
  /** PJSIP object name at the site (prefixed with `trunk-` when rendered). */
  name: AsteriskName,
  host: HostName,
  port: Port.default(5060),
  transport: z.enum(['udp', 'tcp', 'tls']).default('udp'),
  /** Register to the provider (`type=registration`) rather than being identified by IP. */
  register: z.boolean().default(false),
  username: SipUser.optional(),
  /** Write-only; present only in the own site's snapshot. */
  secret: Secret.optional(),
  fromDomain: HostName.optional(),
  fromUser: SipUser.optional(),
  codecs: z.array(Codec).min(1).default(['alaw', 'ulaw']),
  /** Caller ID number presented on calls out through this trunk. */
  callerIdNumber: DialString.optional(),
  /** May carry emergency calls (a local trunk with a geographic number). */
  emergency: z.boolean().default(true),
  maxChannels: z.number().int().min(1).max(10000).optional(),
});
export const Trunk = TrunkFields.refine((t) => t.username !== undefined || (t.secret === undefined && !t.register), {
  // The pjsip renderer writes `type=auth` with username= and password=, and a registration's contact_user: a
  // secret or a registration without a username cannot be rendered.
  message: 'a trunk with a secret, or one that registers, needs a username',
  path: ['username'],
});
export type Trunk = z.infer<typeof Trunk>;

/** What a site may know of another site's trunk: that it exists and where. Never its credentials. */
export const RemoteTrunk = TrunkFields.pick({ id: true, siteId: true, name: true });
export type RemoteTrunk = z.infer<typeof RemoteTrunk>;

export const InterSiteLink = z
  .strictObject({
    id: ObjectId,
    a: SiteId,
    b: SiteId,
    /** `ip`: each side identifies the other by VPN address; `registration`: `registrant` registers to the other. */
    mode: z.enum(['ip', 'registration']).default('ip'),
    registrant: SiteId.optional(),
    /** Shared secret of the link's digest auth (generated; only the two sites of the link see it). */
    secret: Secret.optional(),
    codecs: z.array(Codec).min(1).default(['alaw', 'ulaw']),
  })
  .refine((l) => l.a !== l.b, { message: 'a link joins two different sites', path: ['b'] })
  .refine((l) => l.mode !== 'registration' || (l.registrant !== undefined && (l.registrant === l.a || l.registrant === l.b)), {
    message: 'a registration link names which of its two sites registers',
    path: ['registrant'],
  })
  // The registrar side authenticates the registrant with the link's secret (pjsip renderer: type=auth).
  .refine((l) => l.mode !== 'registration' || l.secret !== undefined, { message: 'a registration link needs a secret', path: ['secret'] });
export type InterSiteLink = z.infer<typeof InterSiteLink>;

export const TrunkPreference = z.strictObject({
  trunkId: ObjectId,
  /** Digits removed from the start of the dialled number before it is sent to this trunk. */
  strip: z.number().int().min(0).max(31).default(0),
  /** Digits added in front after stripping. */
  prepend: z.string().regex(/^\+?[0-9]{0,16}$/).default(''),
});
export type TrunkPreference = z.infer<typeof TrunkPreference>;

export const OutboundRoute = z.strictObject({
  id: ObjectId,
  name: nameOf(80),
  /** Dialled-number patterns (Asterisk syntax) this route takes. */
  patterns: z.array(ExtensionPatternText).min(1).max(100),
  callClass: CallClass.exclude(['internal']),
  /** Origin sites that use this route; empty = every site. */
  sites: z.array(SiteId).default([]),
  /** Trunks in order of preference; each may be at any site (tail-end hop-off through a remote site's trunk). */
  trunks: z.array(TrunkPreference).min(1).max(16),
});
export type OutboundRoute = z.infer<typeof OutboundRoute>;

export const Destination = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('extension'), number: Digits }),
  z.strictObject({ type: z.literal('flow'), flowId: ObjectId }),
  z.strictObject({ type: z.literal('voicemail'), mailbox: Digits }),
  /** Direct inward dialling: the extension is the last `digits` digits of the DID. */
  z.strictObject({ type: z.literal('did-suffix'), digits: z.number().int().min(1).max(15) }),
  z.strictObject({ type: z.literal('hangup') }),
]);
export type Destination = z.infer<typeof Destination>;

export const InboundRoute = z.strictObject({
  id: ObjectId,
  siteId: SiteId,
  /** The DID as the site's trunk delivers it: a number or an Asterisk pattern. */
  did: ExtensionPatternText,
  /** Only calls arriving through this trunk (any of the site's trunks when absent). */
  trunkId: ObjectId.optional(),
  destination: Destination,
});
export type InboundRoute = z.infer<typeof InboundRoute>;

/** The whole federation as the controller holds it: the input of validation and of snapshot building. */
export const Federation = z.strictObject({
  sites: z.array(Site),
  numberRanges: z.array(NumberRange),
  extensions: z.array(Extension),
  trunks: z.array(Trunk),
  links: z.array(InterSiteLink),
  outboundRoutes: z.array(OutboundRoute),
  inboundRoutes: z.array(InboundRoute),
  callFlows: z.array(CallFlow),
  classesOfService: z.array(ClassOfService),
  /** Hub-and-spoke: sites without a direct link reach each other through this site. */
  hubSiteId: SiteId.optional(),
});
export type Federation = z.infer<typeof Federation>;
export type FederationInput = z.input<typeof Federation>;

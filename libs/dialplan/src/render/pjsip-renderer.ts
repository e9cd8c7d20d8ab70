/**
 * `pjsip_fedpbx.conf`: the PJSIP objects fedpbx owns at one site - the inter-site links, the site's PSTN trunks
 * and (optionally) its phones. The admin includes it from pjsip.conf and keeps everything else there.
 *
 * Object layout (asterisk-protocols.md, "PJSIP trunk between two sites"):
 * - `fedpbx-transport` (type=transport, udp) bound to the site's VPN address and SIP port, or to 0.0.0.0 when
 *   the site has no VPN address (then it listens on every interface - keep 5060 firewalled to the VPN and the
 *   phones). Transports are not reloaded by `module reload res_pjsip.so` (allow_reload=no): a changed bind needs
 *   an Asterisk restart.
 * - per other site `P` of a link: endpoint/aor `site-P`; auth `site-P-in` (what P must present: username
 *   `site-P`) and `site-P-out` (what we present to P: username `site-<us>`), both with the link secret;
 *   IP mode adds identify `site-P` matching P's VPN address; registration mode gives the registrant a
 *   `type=registration` `site-P` and the registrar an aor with max_contacts=1/remove_existing=yes.
 *   Every site endpoint sends `from_user=site-<us>`, so the far end can tell the site apart from its own
 *   phones by the From user (the `username` identifier runs by default; `auth_username` does not) - the
 *   caller's number travels in P-Asserted-Identity instead (send_pai / trust_id_inbound).
 * - per own PSTN trunk `T`: endpoint/aor/auth `trunk-T`, a registration `trunk-T` when it registers,
 *   an identify `trunk-T` matching its host when it does not.
 * - per own extension with a SIP secret: endpoint/auth/aor `<endpoint or number>` (option `includePhones`).
 */
import { DEFAULT_SIP_PORT, type Extension, type InterSiteLink, type SiteConfig, type SiteDirectoryEntry, type Trunk } from '@fedpbx/contracts';
import { includeLine } from './include-line.js';
import { escaped, IniWriter, type IniOption, type IniSchema } from './ini-writer.js';
import { collected, type TextSink } from './line-sink.js';
import {
  FEDERATION_TRANSPORT,
  FEDPBX_CONTEXTS,
  PJSIP_FILE_NAME,
  phoneEndpointName,
  RESERVED_NAME_PREFIXES,
  siteEndpointName,
  trunkEndpointName,
} from './names.js';
import { hostPort } from './net.js';
import { RenderError } from './render-errors.js';
import {
  safeAsteriskName,
  safeCallerIdName,
  safeCodec,
  safeDigits,
  safeHost,
  safeIp,
  safeName,
  safePort,
  safeSecret,
  safeSipUser,
  safeSiteId,
} from './safe-values.js';

export interface PjsipRenderOptions {
  /** Render the site's phones (endpoint, auth, aor per extension). Default true; turn off when the admin defines phones. */
  includePhones?: boolean;
  /** Codecs offered to phones, in order. Default `['alaw', 'ulaw', 'g722']`. */
  phoneCodecs?: readonly string[];
  /** A transport of the admin's pjsip.conf for phones (`transport=` on phone endpoints); none by default. */
  phoneTransport?: string;
  /**
   * Transports of the admin's pjsip.conf for PSTN trunks, by protocol. None by default: trunks must not use
   * `fedpbx-transport`, which is bound to the VPN address.
   */
  trunkTransports?: Partial<Record<Trunk['transport'], string>>;
  /** How often to OPTIONS-ping another site, in seconds (aor `qualify_frequency`). Default {@link SITE_QUALIFY_FREQUENCY_SEC}. */
  siteQualifySec?: number;
  /** The path the admin's `#include` names (relative to Asterisk's config dir, or absolute); default the file name. */
  include?: string;
  /** How long an OPTIONS to another site may go unanswered before its contact is Unreachable (aor `qualify_timeout`). */
  siteQualifyTimeoutSec?: number;
}

/**
 * The option names res_pjsip accepts per object type that this renderer may write (a subset of
 * pjsip.conf.sample / `config show help res_pjsip`). The writer refuses anything else.
 */
export const PJSIP_RENDERED_OPTIONS: IniSchema = {
  transport: new Set(['protocol', 'bind']),
  endpoint: new Set([
    'transport', 'context', 'disallow', 'allow', 'aors', 'auth', 'outbound_auth', 'direct_media', 'from_user',
    'from_domain', 'identify_by', 'callerid', 'rtp_symmetric', 'force_rport', 'rewrite_contact', 'dtmf_mode',
    'send_pai', 'trust_id_inbound', 'trust_id_outbound', 'media_address', 'bind_rtp_to_media_address', 'subscribe_context',
  ]),
  aor: new Set(['contact', 'qualify_frequency', 'qualify_timeout', 'max_contacts', 'remove_existing']),
  auth: new Set(['auth_type', 'username', 'password']),
  identify: new Set(['endpoint', 'match']),
  registration: new Set([
    'transport', 'outbound_auth', 'server_uri', 'client_uri', 'contact_user', 'retry_interval',
    'forbidden_retry_interval', 'expiration', 'line', 'endpoint',
  ]),
};

const DEFAULT_PHONE_CODECS = ['alaw', 'ulaw', 'g722'] as const;

/**
 * Qualify of the other sites' contacts (pjsip_options.c): an OPTIONS every 2 s, Unreachable when one is unanswered
 * for 2 s. A link that dies is seen within frequency + timeout = 4 s at worst (the observed 3.5-20 s came from 30 s /
 * 3 s), one that comes back within 2 s plus a round trip; the agent then hangs up the calls still waiting on it
 * (deploy/asterisk/README.md: "A dying link"). Cost per link: each side sends one OPTIONS every 2 s and answers the
 * other's - about 1 request/s with its 200 OK over the link, ~1 KB/s (~8 kbit/s) both directions together.
 */
export const SITE_QUALIFY_FREQUENCY_SEC = 2;
export const SITE_QUALIFY_TIMEOUT_SEC = 2;

/** Registration timers (pjsip.conf.sample values; expiration within Asterisk's 60..7200 s). */
const REGISTRATION_TIMERS: readonly IniOption[] = [
  ['retry_interval', 60],
  ['forbidden_retry_interval', 600],
  ['expiration', 3600],
];

export function renderPjsip(config: SiteConfig, opts: PjsipRenderOptions = {}): string {
  return collected((sink) => renderPjsipTo(config, sink, opts));
}

/**
 * {@link renderPjsip}, the text handed to `sink` as it is rendered (TextSink: a head office's 45 MB file is never
 * one string). A RenderError may come after some chunks went to the sink: the caller discards what it got.
 */
export function renderPjsipTo(config: SiteConfig, sink: TextSink, opts: PjsipRenderOptions = {}): void {
  const self = config.site;
  const selfId = safeSiteId(self.id, { object: 'site', field: 'id' });
  const writer = new IniWriter(PJSIP_RENDERED_OPTIONS, sink);
  writer
    .comment(`${PJSIP_FILE_NAME} - generated by fedpbx for site ${selfId}. DO NOT EDIT.`)
    .comment('fedpbx rewrites this file whenever the federation configuration changes; local edits are lost.')
    .comment(`Include it from pjsip.conf with this line: ${includeLine(PJSIP_FILE_NAME, opts.include)}`)
    .comment('and keep your own objects there.');

  const transport = renderTransport(writer, config);

  const links = config.links
    .filter((link) => link.a === selfId || link.b === selfId) // defensive: never another pair's secret
    .slice()
    .sort((x, y) => compare(peerOf(x, selfId), peerOf(y, selfId)) || compare(x.id, y.id));
  for (const link of links) renderLink(writer, config, link, transport, opts);

  const trunks = config.trunks.filter((t) => t.siteId === selfId).sort((x, y) => compare(x.name, y.name));
  for (const trunk of trunks) renderTrunk(writer, trunk, opts);

  if (opts.includePhones ?? true) {
    const phones = config.extensions.filter((e) => e.siteId === selfId).sort((x, y) => compare(x.number, y.number));
    for (const phone of phones) renderPhone(writer, phone, opts);
  }
  writer.end();
}

function renderTransport(writer: IniWriter, config: SiteConfig): string {
  const network = config.site.network;
  const object = `transport ${FEDERATION_TRANSPORT}`;
  const port = safePort(network.sipPort, { object, field: 'sipPort' });
  const bind =
    network.vpnAddress === undefined
      ? `0.0.0.0:${port}`
      : hostPort(safeIp(network.vpnAddress, { object, field: 'vpnAddress' }), port);
  writer.section(
    FEDERATION_TRANSPORT,
    'transport',
    [
      ['protocol', 'udp'],
      ['bind', bind],
    ],
    network.vpnAddress === undefined
      ? 'Inter-site transport. The site has no VPN address: bound to every interface.'
      : 'Inter-site transport, bound to the site VPN address.',
  );
  return FEDERATION_TRANSPORT;
}

function peerOf(link: InterSiteLink, selfId: string): string {
  return link.a === selfId ? link.b : link.a;
}

function renderLink(writer: IniWriter, config: SiteConfig, link: InterSiteLink, transport: string, opts: PjsipRenderOptions): void {
  const selfId = config.site.id;
  const linkObject = `link ${link.id}`;
  const peerId = safeSiteId(peerOf(link, selfId), { object: linkObject, field: 'peer site' });
  const name = siteEndpointName(peerId);
  const peer = config.federation.sites.find((s) => s.id === peerId);
  if (peer === undefined) {
    throw new RenderError('MISSING_VALUE', linkObject, 'peer site', 'the peer site is not in the federation directory');
  }
  const codecs = link.codecs.map((c, i) => safeCodec(c, { object: linkObject, field: `codecs[${i}]` }));
  if (codecs.length === 0) throw new RenderError('MISSING_VALUE', linkObject, 'codecs', 'at least one codec');
  const secret = link.secret === undefined ? undefined : safeSecret(link.secret, { object: linkObject, field: 'secret' });
  const qualify = opts.siteQualifySec ?? SITE_QUALIFY_FREQUENCY_SEC;
  const qualifyTimeout = opts.siteQualifyTimeoutSec ?? SITE_QUALIFY_TIMEOUT_SEC;
  // Media on the site's federation address: SDP `c=` says it and RTP binds to it, whatever other transport shares the
  // box (res_pjsip_sdp_rtp.c create_rtp / create_outgoing_sdp_stream; otherwise `c=` is the host's main address,
  // which pjsip_message_filter.c may rewrite to another transport's - observed: one-way audio).
  const ownVpn = config.site.network.vpnAddress === undefined ? undefined : safeIp(config.site.network.vpnAddress, { object: `site ${selfId}`, field: 'vpnAddress' });

  const registration = link.mode === 'registration';
  if (registration && secret === undefined) {
    throw new RenderError('MISSING_VALUE', linkObject, 'secret', 'a registration link needs a secret for its digest auth');
  }
  const weRegister = registration && link.registrant === selfId;
  const theyRegister = registration && link.registrant === peerId;
  if (registration && !weRegister && !theyRegister) {
    throw new RenderError('MISSING_VALUE', linkObject, 'registrant', 'a registration link names which of its two sites registers');
  }
  const inAuth = `${name}-in`;
  const outAuth = `${name}-out`;
  // Where the peer's SIP is reached; unknown is fine only when the peer registers to us.
  const peerHost = theyRegister ? undefined : peerSipHost(peer, linkObject);
  const peerPort = safePort(peer.network?.sipPort ?? DEFAULT_SIP_PORT, { object: linkObject, field: 'peer sipPort' });

  writer.section(
    name,
    'endpoint',
    [
      ['transport', transport],
      ['context', FEDPBX_CONTEXTS.fromSites],
      ['disallow', 'all'],
      ['allow', codecs.join(',')],
      ['aors', name],
      secret !== undefined && ['auth', inAuth],
      secret !== undefined && ['outbound_auth', outAuth],
      ['identify_by', registration ? 'username' : 'ip'],
      ['from_user', siteEndpointName(selfId)],
      ['send_pai', true],
      ['trust_id_inbound', true],
      ['trust_id_outbound', true],
      ['direct_media', false],
      ['dtmf_mode', 'rfc4733'],
      ownVpn !== undefined && ['media_address', ownVpn],
      ownVpn !== undefined && ['bind_rtp_to_media_address', true],
    ],
    `Link ${link.id} to site ${peerId} (${registration ? `registration, ${weRegister ? 'we register' : `${peerId} registers`}` : 'ip'})`,
  );

  if (peerHost === undefined) {
    // The peer registers to us: its contact is dynamic, one at a time.
    writer.section(name, 'aor', [
      ['max_contacts', 1],
      ['remove_existing', true],
      ['qualify_frequency', qualify],
      qualify > 0 && ['qualify_timeout', qualifyTimeout],
    ]);
  } else {
    writer.section(name, 'aor', [
      ['contact', `sip:${hostPort(peerHost, peerPort)}`],
      ['qualify_frequency', qualify],
      qualify > 0 && ['qualify_timeout', qualifyTimeout],
    ]);
  }

  if (secret !== undefined) {
    writer.section(inAuth, 'auth', [
      ['auth_type', 'userpass'],
      ['username', name],
      ['password', escaped(secret)],
    ]);
    writer.section(outAuth, 'auth', [
      ['auth_type', 'userpass'],
      ['username', siteEndpointName(selfId)],
      ['password', escaped(secret)],
    ]);
  }

  if (!registration) {
    const vpn = peer.network?.vpnAddress;
    const match = [vpn === undefined ? undefined : safeIp(vpn, { object: linkObject, field: 'peer vpnAddress' }), peerHost];
    writer.section(name, 'identify', [
      ['endpoint', name],
      ['match', [...new Set(match.filter((m): m is string => m !== undefined))].join(',')],
    ]);
  }

  if (weRegister && peerHost !== undefined) {
    const server = hostPort(peerHost, peerPort);
    writer.section(name, 'registration', [
      ['transport', transport],
      ['outbound_auth', outAuth],
      ['server_uri', `sip:${server}`],
      ['client_uri', `sip:${siteEndpointName(selfId)}@${server}`],
      ['contact_user', siteEndpointName(selfId)],
      ...REGISTRATION_TIMERS,
      ['line', true],
      ['endpoint', name],
    ]);
  }
}

function peerSipHost(peer: SiteDirectoryEntry, object: string): string {
  const host = peer.network?.sipHost ?? peer.network?.vpnAddress;
  if (host === undefined) {
    throw new RenderError('MISSING_VALUE', object, 'peer address', `site ${peer.id} has neither a sipHost nor a vpnAddress`);
  }
  return safeHost(host, { object, field: 'peer address' });
}

function renderTrunk(writer: IniWriter, trunk: Trunk, opts: PjsipRenderOptions): void {
  const object = `trunk ${trunk.id}`;
  const name = trunkEndpointName(safeAsteriskName(trunk.name, { object, field: 'name' }));
  safeName(name, { object, field: 'name' });
  const host = safeHost(trunk.host, { object, field: 'host' });
  const port = safePort(trunk.port, { object, field: 'port' });
  const username = trunk.username === undefined ? undefined : safeSipUser(trunk.username, { object, field: 'username' });
  const secret = trunk.secret === undefined ? undefined : safeSecret(trunk.secret, { object, field: 'secret' });
  if (secret !== undefined && username === undefined) {
    throw new RenderError('MISSING_VALUE', object, 'username', 'a trunk with a secret needs a username');
  }
  if (trunk.register && username === undefined) {
    throw new RenderError('MISSING_VALUE', object, 'username', 'a registering trunk needs a username');
  }
  const protocol = trunk.transport;
  if (protocol !== 'udp' && protocol !== 'tcp' && protocol !== 'tls') {
    throw new RenderError('UNSAFE_VALUE', object, 'transport', 'udp, tcp or tls');
  }
  const transport = opts.trunkTransports?.[protocol];
  if (transport !== undefined) safeName(transport, { object, field: 'trunkTransports' });
  const codecs = trunk.codecs.map((c, i) => safeCodec(c, { object, field: `codecs[${i}]` }));
  const fromUser = trunk.fromUser === undefined ? undefined : safeSipUser(trunk.fromUser, { object, field: 'fromUser' });
  const fromDomain = trunk.fromDomain === undefined ? undefined : safeHost(trunk.fromDomain, { object, field: 'fromDomain' });
  // `;transport=` is a URI parameter: its `;` is meant literally, so the writer escapes it as `\;`.
  const uriParams = protocol === 'udp' ? '' : `;transport=${protocol}`;
  const server = hostPort(host, port);
  const credentials = secret !== undefined && username !== undefined ? { username, secret } : undefined;
  const auth = credentials !== undefined;

  writer.section(
    name,
    'endpoint',
    [
      transport !== undefined && ['transport', transport],
      ['context', FEDPBX_CONTEXTS.fromPstn],
      ['disallow', 'all'],
      ['allow', codecs.join(',')],
      ['aors', name],
      auth && ['outbound_auth', name],
      fromUser !== undefined && ['from_user', fromUser],
      fromDomain !== undefined && ['from_domain', fromDomain],
      !trunk.register && ['identify_by', 'ip'],
      ['direct_media', false],
      ['rtp_symmetric', true],
      ['force_rport', true],
      ['rewrite_contact', true],
      ['dtmf_mode', 'rfc4733'],
    ],
    `PSTN trunk ${trunk.id}`,
  );
  writer.section(name, 'aor', [
    ['contact', escaped(`sip:${server}${uriParams}`)],
    ['qualify_frequency', 60],
  ]);
  if (credentials !== undefined) {
    writer.section(name, 'auth', [
      ['auth_type', 'userpass'],
      ['username', credentials.username],
      ['password', escaped(credentials.secret)],
    ]);
  }
  if (trunk.register && username !== undefined) {
    writer.section(name, 'registration', [
      transport !== undefined && ['transport', transport],
      auth && ['outbound_auth', name],
      ['server_uri', escaped(`sip:${server}${uriParams}`)],
      ['client_uri', escaped(`sip:${username}@${fromDomain ?? server}${uriParams}`)],
      ['contact_user', username],
      ...REGISTRATION_TIMERS,
      ['line', true],
      ['endpoint', name],
    ]);
  } else {
    writer.section(name, 'identify', [
      ['endpoint', name],
      ['match', host],
    ]);
  }
}

function renderPhone(writer: IniWriter, phone: Extension, opts: PjsipRenderOptions): void {
  const object = `extension ${phone.id}`;
  const number = safeDigits(phone.number, { object, field: 'number' });
  const name = safeAsteriskName(phoneEndpointName(phone), { object, field: 'endpoint' });
  if (RESERVED_NAME_PREFIXES.some((prefix) => name.toLowerCase().startsWith(prefix))) {
    throw new RenderError('RESERVED_NAME', object, 'endpoint', `phone endpoint names must not start with ${RESERVED_NAME_PREFIXES.join(', ')}`);
  }
  if (phone.sipSecret === undefined) {
    writer.blank().comment(`Extension ${number}: no SIP secret in the snapshot, phone not rendered.`);
    return;
  }
  const secret = safeSecret(phone.sipSecret, { object, field: 'sipSecret' });
  const displayName = safeCallerIdName(phone.displayName, { object, field: 'displayName' });
  const codecs = (opts.phoneCodecs ?? DEFAULT_PHONE_CODECS).map((c, i) => safeCodec(c, { object: 'options', field: `phoneCodecs[${i}]` }));
  const transport = opts.phoneTransport === undefined ? undefined : safeName(opts.phoneTransport, { object: 'options', field: 'phoneTransport' });

  writer.section(
    name,
    'endpoint',
    [
      transport !== undefined && ['transport', transport],
      ['context', FEDPBX_CONTEXTS.internal],
      // SUBSCRIBEs for busy lamps look for hints here (res_pjsip_exten_state.c: subscription.context, else context).
      ['subscribe_context', FEDPBX_CONTEXTS.hints],
      ['disallow', 'all'],
      ['allow', codecs.join(',')],
      ['auth', name],
      ['aors', name],
      ['callerid', displayName === '' ? `<${number}>` : `"${displayName}" <${number}>`],
      ['direct_media', false],
      ['rtp_symmetric', true],
      ['force_rport', true],
      ['rewrite_contact', true],
      ['dtmf_mode', 'rfc4733'],
    ],
    `Phone ${number}`,
  );
  writer.section(name, 'auth', [
    ['auth_type', 'userpass'],
    ['username', name],
    ['password', escaped(secret)],
  ]);
  writer.section(name, 'aor', [
    ['max_contacts', 1],
    ['remove_existing', true],
    ['qualify_frequency', 60],
  ]);
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

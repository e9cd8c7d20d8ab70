import { Federation, type SiteConfig } from '@fedpbx/contracts';
import { describe, expect, it } from 'vitest';
import { foundingScenario, foundingScenarioInput } from '../scenario/founding-scenario.js';
import { renderPjsip } from './pjsip-renderer.js';
import { RenderError } from './render-errors.js';
import { parseIniStrict, secretsOf, siteConfigFor, type IniSection } from './render-fixtures.test.js';

/**
 * The option names res_pjsip documents per object type (pjsip.conf.sample, "config show help res_pjsip"),
 * kept here independently of the renderer's own table. Every rendered option must be one of them.
 */
const PJSIP_OPTIONS: Record<string, readonly string[]> = {
  transport: ['protocol', 'bind', 'external_media_address', 'external_signaling_address', 'local_net', 'allow_reload', 'tos', 'cos'],
  endpoint: [
    'transport', 'context', 'disallow', 'allow', 'aors', 'auth', 'outbound_auth', 'direct_media', 'from_user', 'from_domain',
    'identify_by', 'callerid', 'rtp_symmetric', 'force_rport', 'rewrite_contact', 'dtmf_mode', 'send_pai', 'send_rpid',
    'trust_id_inbound', 'trust_id_outbound', 'mailboxes', 'ice_support', 'media_encryption', 'language', 'media_address',
    'bind_rtp_to_media_address', 'subscribe_context',
  ],
  aor: ['contact', 'qualify_frequency', 'qualify_timeout', 'max_contacts', 'remove_existing', 'default_expiration', 'minimum_expiration', 'maximum_expiration', 'authenticate_qualify'],
  auth: ['auth_type', 'username', 'password', 'realm', 'md5_cred', 'nonce_lifetime'],
  identify: ['endpoint', 'match', 'match_header', 'srv_lookups'],
  registration: [
    'transport', 'outbound_auth', 'server_uri', 'client_uri', 'contact_user', 'retry_interval', 'forbidden_retry_interval',
    'fatal_retry_interval', 'expiration', 'max_retries', 'auth_rejection_permanent', 'outbound_proxy', 'line', 'endpoint',
  ],
};
const IDENTIFY_BY = new Set(['username', 'auth_username', 'ip', 'header', 'request_uri']);
const CODECS = new Set(['alaw', 'ulaw', 'g722', 'g729', 'opus', 'gsm']);
const SITES = ['moscow', 'piter', 'kazan'] as const;

function sections(siteId: string): IniSection[] {
  return parseIniStrict(renderPjsip(siteConfigFor(siteId)));
}

function find(list: IniSection[], name: string, type: string): IniSection {
  const found = list.find((s) => s.name === name && s.type === type);
  if (found === undefined) throw new Error(`no [${name}] type=${type}`);
  return found;
}

function has(list: IniSection[], name: string, type: string): boolean {
  return list.some((s) => s.name === name && s.type === type);
}

function refusal(fn: () => unknown): RenderError {
  try {
    fn();
  } catch (error) {
    if (error instanceof RenderError) return error;
    throw error;
  }
  throw new Error('expected a RenderError');
}

function withFederation(edit: (input: ReturnType<typeof foundingScenarioInput>) => void): Federation {
  const input = foundingScenarioInput();
  edit(input);
  return Federation.parse(input);
}

describe('renderPjsip: shape of the output', () => {
  it.each(SITES)('%s: every section has one known type, known options, and a unique name+type', (siteId) => {
    const list = sections(siteId);
    const seen = new Set<string>();
    for (const section of list) {
      const allowed = PJSIP_OPTIONS[section.type];
      expect(allowed, `type ${section.type}`).toBeDefined();
      for (const key of section.options.keys()) expect(allowed, `[${section.name}] ${key}`).toContain(key);
      const identity = `${section.name}/${section.type}`;
      expect(seen.has(identity), identity).toBe(false);
      seen.add(identity);
    }
  });

  it.each(SITES)('%s: every reference points at an object of the right type in the same file', (siteId) => {
    const list = sections(siteId);
    for (const s of list) {
      const o = s.options;
      if (s.type === 'endpoint') {
        expect(has(list, o.get('aors') ?? '', 'aor'), `${s.name} aors`).toBe(true);
        for (const key of ['auth', 'outbound_auth']) if (o.has(key)) expect(has(list, o.get(key) ?? '', 'auth'), `${s.name} ${key}`).toBe(true);
        if (o.has('transport')) expect(has(list, o.get('transport') ?? '', 'transport')).toBe(true);
        for (const codec of (o.get('allow') ?? '').split(',')) expect(CODECS.has(codec), codec).toBe(true);
        expect(o.get('disallow')).toBe('all');
        for (const by of (o.get('identify_by') ?? 'username').split(',')) expect(IDENTIFY_BY.has(by)).toBe(true);
      }
      if (s.type === 'identify' || s.type === 'registration') expect(has(list, o.get('endpoint') ?? '', 'endpoint')).toBe(true);
      if (s.type === 'registration') {
        expect(has(list, o.get('outbound_auth') ?? '', 'auth')).toBe(true);
        expect(o.get('line')).toBe('yes');
        expect(o.get('retry_interval')).toBe('60');
        expect(o.get('forbidden_retry_interval')).toBe('600');
        expect(o.get('expiration')).toBe('3600');
      }
      if (s.type === 'auth') {
        expect(o.get('auth_type')).toBe('userpass');
        expect(o.get('username')).toBeTruthy();
        expect(o.get('password')).toBeTruthy();
      }
    }
  });

  it('starts with a generated-file header and is deterministic', () => {
    const text = renderPjsip(siteConfigFor('moscow'));
    expect(text.split('\n')[0]).toMatch(/^; pjsip_fedpbx\.conf - generated by fedpbx for site moscow\. DO NOT EDIT\.$/);
    const shuffled = siteConfigFor('moscow');
    const reversed: SiteConfig = { ...shuffled, links: [...shuffled.links].reverse(), extensions: [...shuffled.extensions].reverse() };
    expect(renderPjsip(reversed)).toBe(text);
  });
});

describe('renderPjsip: the founding scenario', () => {
  it('moscow reaches piter over the VPN, identified by IP, with auth both ways', () => {
    const list = sections('moscow');
    const endpoint = find(list, 'site-piter', 'endpoint').options;
    expect(endpoint.get('context')).toBe('fedpbx-from-sites');
    expect(endpoint.get('allow')).toBe('alaw,ulaw');
    expect(endpoint.get('transport')).toBe('fedpbx-transport');
    expect(endpoint.get('identify_by')).toBe('ip');
    expect(endpoint.get('from_user')).toBe('site-moscow');
    expect(find(list, 'site-piter', 'aor').options.get('contact')).toBe('sip:10.77.0.2:5060');
    expect(Number(find(list, 'site-piter', 'aor').options.get('qualify_frequency'))).toBeGreaterThan(0);
    expect(find(list, 'site-piter', 'identify').options.get('match')).toBe('10.77.0.2');
    // Media on the federation address whatever other transport shares the box (observed: c= of another transport).
    expect(endpoint.get('media_address')).toBe('10.77.0.1');
    expect(endpoint.get('bind_rtp_to_media_address')).toBe('yes');
    expect(find(list, 'fedpbx-transport', 'transport').options.get('bind')).toBe('10.77.0.1:5060');
    expect(has(list, 'site-piter', 'registration')).toBe(false);
  });

  it('qualifies every other site every 2 s with a 2 s timeout on both ends of every link: a dead link is seen within 4 s', () => {
    for (const site of SITES) {
      for (const aor of sections(site).filter((s) => s.type === 'aor' && s.name.startsWith('site-'))) {
        expect([aor.options.get('qualify_frequency'), aor.options.get('qualify_timeout')], `${site} ${aor.name}`).toEqual(['2', '2']);
      }
    }
    const none = siteConfigFor('moscow');
    const off = parseIniStrict(renderPjsip(none, { siteQualifySec: 0 }));
    expect(find(off, 'site-piter', 'aor').options.has('qualify_timeout')).toBe(false);
  });

  it('moscow-kazan is registration based: kazan registers, moscow is the registrar', () => {
    const kazan = sections('kazan');
    const registration = find(kazan, 'site-moscow', 'registration').options;
    expect(registration.get('server_uri')).toBe('sip:10.77.0.1:5060');
    expect(registration.get('client_uri')).toBe('sip:site-kazan@10.77.0.1:5060');
    expect(registration.get('contact_user')).toBe('site-kazan');
    expect(registration.get('endpoint')).toBe('site-moscow');
    expect(registration.get('transport')).toBe('fedpbx-transport');
    expect(find(kazan, registration.get('outbound_auth') ?? '', 'auth').options.get('username')).toBe('site-kazan');

    const moscow = sections('moscow');
    const aor = find(moscow, 'site-kazan', 'aor').options;
    expect(aor.get('max_contacts')).toBe('1');
    expect(aor.get('remove_existing')).toBe('yes');
    expect(aor.has('contact')).toBe(false);
    expect(has(moscow, 'site-kazan', 'registration')).toBe(false);
    expect(has(moscow, 'site-kazan', 'identify')).toBe(false);
    // The registrar identifies kazan by the From user kazan sends, and challenges it.
    expect(find(moscow, 'site-kazan', 'endpoint').options.get('identify_by')).toBe('username');
    expect(find(kazan, 'site-moscow', 'endpoint').options.get('from_user')).toBe('site-kazan');
    expect(find(moscow, find(moscow, 'site-kazan', 'endpoint').options.get('auth') ?? '', 'auth').options.get('username')).toBe('site-kazan');
  });

  it('the two ends of every link agree on credentials: what one presents the other expects', () => {
    const fed = foundingScenario();
    for (const link of fed.links) {
      const a = sections(link.a);
      const b = sections(link.b);
      const aOut = find(a, find(a, `site-${link.b}`, 'endpoint').options.get('outbound_auth') ?? '', 'auth').options;
      const bIn = find(b, find(b, `site-${link.a}`, 'endpoint').options.get('auth') ?? '', 'auth').options;
      expect(aOut.get('username')).toBe(bIn.get('username'));
      expect(aOut.get('password')).toBe(bIn.get('password'));
      expect(aOut.get('password')).toBe(link.secret);
    }
  });

  it('renders the site PSTN trunks: registering moscow-city, IP-identified kazan-city', () => {
    const moscow = sections('moscow');
    expect(find(moscow, 'trunk-moscow-city', 'endpoint').options.get('context')).toBe('fedpbx-from-pstn');
    expect(find(moscow, 'trunk-moscow-city', 'auth').options.get('username')).toBe('fedpbx-msk');
    expect(find(moscow, 'trunk-moscow-city', 'registration').options.get('server_uri')).toBe('sip:sip.msk-carrier.example:5060');
    expect(find(moscow, 'trunk-moscow-city', 'endpoint').options.has('transport')).toBe(false);
    const kazan = sections('kazan');
    expect(has(kazan, 'trunk-kazan-city', 'registration')).toBe(false);
    expect(find(kazan, 'trunk-kazan-city', 'identify').options.get('match')).toBe('sip.kzn-carrier.example');
  });

  it('renders phones with their secret and caller ID, or not at all with includePhones: false', () => {
    const moscow = sections('moscow');
    const phone = find(moscow, '101', 'endpoint').options;
    expect(phone.get('context')).toBe('fedpbx-internal');
    expect(phone.get('callerid')).toBe('"Ivan Petrov" <101>');
    expect(find(moscow, '101', 'auth').options.get('password')).toBe('m101-secret-XYZ');
    expect(find(moscow, '101', 'aor').options.get('max_contacts')).toBe('1');
    const without = renderPjsip(siteConfigFor('moscow'), { includePhones: false });
    expect(parseIniStrict(without).some((s) => s.name === '101')).toBe(false);
    expect(without).not.toContain('m101-secret-XYZ');
  });

  it.each(SITES)('%s: contains its own secrets and no secret it may not know', (siteId) => {
    const fed = foundingScenario();
    const text = renderPjsip(siteConfigFor(siteId));
    // Even a config that wrongly carries the whole federation must not leak: the renderer filters by site.
    const leaky: SiteConfig = { ...siteConfigFor(siteId), extensions: fed.extensions, trunks: fed.trunks, links: fed.links };
    const leakyText = renderPjsip(leaky);
    for (const { secret, owners } of secretsOf(fed)) {
      const mine = owners.includes(siteId);
      expect(text.includes(secret), `${siteId} / ${secret}`).toBe(mine);
      expect(leakyText.includes(secret), `${siteId} (leaky input) / ${secret}`).toBe(mine);
    }
    if (siteId === 'moscow') {
      expect(text).not.toContain('link-pk-SECRET');
      expect(text).not.toContain('spb-trunk-SECRET');
    }
  });
});

describe('renderPjsip: other topologies', () => {
  it('binds 0.0.0.0 without a VPN address and brackets IPv6', () => {
    const none = siteConfigFor('moscow');
    const noVpn: SiteConfig = { ...none, site: { ...none.site, network: { sipPort: 5070 } } };
    expect(find(parseIniStrict(renderPjsip(noVpn)), 'fedpbx-transport', 'transport').options.get('bind')).toBe('0.0.0.0:5070');
    // No federation address: media follows the transport (pjsip_message_filter.c rewrites a host-address c=).
    expect(find(parseIniStrict(renderPjsip(noVpn)), 'site-piter', 'endpoint').options.has('media_address')).toBe(false);
    const fed = withFederation((input) => {
      const [moscow, piter] = input.sites;
      if (moscow && piter) {
        moscow.network = { vpnAddress: 'fd00::1', sipPort: 5060 };
        piter.network = { vpnAddress: 'fd00::2', sipPort: 5060 };
      }
    });
    const list = parseIniStrict(renderPjsip(siteConfigFor('moscow', fed)));
    expect(find(list, 'fedpbx-transport', 'transport').options.get('bind')).toBe('[fd00::1]:5060');
    expect(find(list, 'site-piter', 'aor').options.get('contact')).toBe('sip:[fd00::2]:5060');
    expect(find(list, 'site-piter', 'identify').options.get('match')).toBe('fd00::2');
  });

  it('prefers the peer sipHost for the contact and matches both addresses', () => {
    const fed = withFederation((input) => {
      const piter = input.sites[1];
      if (piter) piter.network = { vpnAddress: '10.77.0.2', sipHost: 'pbx.piter.example', sipPort: 5070 };
    });
    const list = parseIniStrict(renderPjsip(siteConfigFor('moscow', fed)));
    expect(find(list, 'site-piter', 'aor').options.get('contact')).toBe('sip:pbx.piter.example:5070');
    expect(find(list, 'site-piter', 'identify').options.get('match')).toBe('10.77.0.2,pbx.piter.example');
  });

  it('an IP link without a secret has no auth objects', () => {
    const fed = withFederation((input) => {
      const link = input.links[0];
      if (link) delete link.secret;
    });
    const list = parseIniStrict(renderPjsip(siteConfigFor('moscow', fed)));
    expect(find(list, 'site-piter', 'endpoint').options.has('auth')).toBe(false);
    expect(has(list, 'site-piter-in', 'auth')).toBe(false);
  });

  it('escapes ; in secrets and writes ;transport= of TCP/TLS trunks escaped', () => {
    const fed = withFederation((input) => {
      const trunk = input.trunks[0];
      if (trunk) Object.assign(trunk, { secret: 'pa;ss;word', transport: 'tls', port: 5061 });
    });
    const text = renderPjsip(siteConfigFor('moscow', fed), { trunkTransports: { tls: 'transport-tls' } });
    expect(text).toContain('password=pa\\;ss\\;word');
    const list = parseIniStrict(text);
    expect(find(list, 'trunk-moscow-city', 'auth').options.get('password')).toBe('pa;ss;word');
    expect(find(list, 'trunk-moscow-city', 'aor').options.get('contact')).toBe('sip:sip.msk-carrier.example:5061;transport=tls');
    expect(find(list, 'trunk-moscow-city', 'endpoint').options.get('transport')).toBe('transport-tls');
  });
});

describe('renderPjsip: injection attempts throw a RenderError naming object and field', () => {
  const base = (): SiteConfig => siteConfigFor('moscow');
  const trunkWith = (patch: Record<string, unknown>): SiteConfig => {
    const config = base();
    const [trunk] = config.trunks;
    if (trunk === undefined) throw new Error('no trunk');
    return { ...config, trunks: [{ ...trunk, ...patch } as typeof trunk] };
  };

  it.each([
    ['a trunk name with a line feed', { name: 'city\n[evil]' }, 'name'],
    ['a trunk name with ;', { name: 'city;x' }, 'name'],
    ['a trunk name with [', { name: 'city[x' }, 'name'],
    ['a trunk host with a line feed', { host: 'sip.example\ntype=endpoint' }, 'host'],
    ['a trunk host with ;', { host: 'sip.example;evil' }, 'host'],
    ['a trunk host with [', { host: '[sip.example]' }, 'host'],
    ['a trunk secret with a line feed', { secret: 'aaaaaaaa\n[evil]' }, 'secret'],
    ['a trunk secret starting with >', { secret: '>aaaaaaaa' }, 'secret'],
    ['a trunk username with @', { username: 'user@evil' }, 'username'],
  ])('%s', (_label, patch, field) => {
    const error = refusal(() => renderPjsip(trunkWith(patch)));
    expect(error.code).toBe('UNSAFE_VALUE');
    expect(error.object).toBe('trunk t-moscow-city');
    expect(error.field).toBe(field);
    expect(error.message).not.toContain('aaaaaaaa');
  });

  it('a display name with a quote', () => {
    const config = base();
    const [first, ...rest] = config.extensions;
    if (first === undefined) throw new Error('no extension');
    const error = refusal(() => renderPjsip({ ...config, extensions: [{ ...first, displayName: 'Ivan" <999>' }, ...rest] }));
    expect(error.object).toBe('extension e-m101');
    expect(error.field).toBe('displayName');
  });

  it('a phone endpoint named like a fedpbx object', () => {
    const config = base();
    const [first, ...rest] = config.extensions;
    if (first === undefined) throw new Error('no extension');
    const error = refusal(() => renderPjsip({ ...config, extensions: [{ ...first, endpoint: 'site-piter' }, ...rest] }));
    expect(error.code).toBe('RESERVED_NAME');
  });

  it('a peer address with a line feed, a registration link without secret, a link to an unknown site', () => {
    const config = base();
    const badPeer: SiteConfig = {
      ...config,
      federation: {
        ...config.federation,
        sites: config.federation.sites.map((s) => (s.id === 'piter' ? { ...s, network: { vpnAddress: '10.77.0.2\n', sipPort: 5060 } } : s)),
      },
    };
    expect(refusal(() => renderPjsip(badPeer)).field).toBe('peer address');
    const noSecret: SiteConfig = { ...config, links: config.links.map((l) => (l.mode === 'registration' ? { ...l, secret: undefined } : l)) };
    expect(refusal(() => renderPjsip(noSecret))).toMatchObject({ code: 'MISSING_VALUE', object: 'link l-moscow-kazan', field: 'secret' });
    const unknown: SiteConfig = { ...config, federation: { ...config.federation, sites: config.federation.sites.filter((s) => s.id !== 'piter') } };
    expect(refusal(() => renderPjsip(unknown))).toMatchObject({ code: 'MISSING_VALUE', object: 'link l-moscow-piter' });
  });
});

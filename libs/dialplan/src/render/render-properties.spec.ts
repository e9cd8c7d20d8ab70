/**
 * Property: every federation the contracts accept (and the validator passes), every renderer renders - pjsip,
 * extensions, voicemail, wireguard - and Asterisk's config parser (main/config.c, as asterisk-config-reader.test.ts
 * reads it) gets back exactly the values that went in: secrets with `;` `#` `[` `=` `\` `>` inside, user names,
 * host names, PINs, e-mail addresses. Values are drawn with a bias toward the characters that break config text,
 * and kept only when the contract's own schema accepts them: the generator knows no rule of its own.
 */
import {
  AsteriskName,
  DisplayName,
  EmailAddress,
  Federation,
  HostName,
  PhoneEndpointName,
  Secret,
  SipUser,
  TimeZoneName,
  VoicemailPin,
  WireguardKey,
  type FederationInput,
} from '@fedpbx/contracts';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { buildSiteConfig } from '../snapshot/site-view.js';
import { validateFederationFlows } from '../validation/call-flow-validation.js';
import { validateFederation } from '../validation/federation-validator.js';
import { readAsteriskConfig } from './asterisk-config-reader.test.js';
import { renderExtensions } from './extensions-renderer.js';
import { renderPjsip } from './pjsip-renderer.js';
import { renderVoicemail } from './voicemail-renderer.js';
import { wireguardMeshFor } from './wireguard-mesh.js';
import { renderWireguard } from './wireguard-renderer.js';

type Schema = { safeParse(v: unknown): { success: boolean } };

/**
 * Strings over `alphabet` (now and then with characters of `hostile` mixed in), kept when `schema` (a contract)
 * accepts them: the contract decides; the alphabet only makes acceptance likely enough to keep the run fast.
 */
const valid = (schema: Schema, alphabet: string, minLength: number, maxLength: number, hostile = ''): fc.Arbitrary<string> => {
  const plain = fc.string({ unit: fc.constantFrom(...alphabet), minLength, maxLength });
  const spiced =
    hostile === ''
      ? plain
      : fc.oneof({ arbitrary: plain, weight: 3 }, { arbitrary: fc.string({ unit: fc.constantFrom(...alphabet, ...hostile), minLength, maxLength }), weight: 1 });
  return spiced.filter((s) => schema.safeParse(s).success);
};

const PRINTABLE = Array.from({ length: 0x7f - 0x21 }, (_, i) => String.fromCharCode(0x21 + i)).join('');
/** Characters that mean something to config.c (`;` `\` `>` `=` `#` `[`) or to dialplan and voicemail.conf (`,` `|`). */
const HOSTILE = ';>=#[]\\,|()"$&- \t\n';
const secret = valid(Secret, `${PRINTABLE};;;>>>\\\\`, 8, 24, ' \t\n');
const sipUser = valid(SipUser, 'abcXYZ019_.+-', 1, 16, HOSTILE);
const asteriskName = valid(AsteriskName, 'abcXYZ019_.-', 1, 20, HOSTILE);
const label = fc.string({ unit: fc.constantFrom(...'abcxyz019'), minLength: 1, maxLength: 8 });
const hostName = fc.array(label, { minLength: 1, maxLength: 4 }).map((l) => l.join('.')).filter((h) => HostName.safeParse(h).success);
const displayName = valid(DisplayName, "AbyzЖжé09 ._'-", 1, 30, HOSTILE);
const pin = valid(VoicemailPin, '0123456789', 4, 16, '*#,');
const localPart = fc.string({ unit: fc.constantFrom(...'abz09._%+-'), minLength: 1, maxLength: 12 });
const email = fc.tuple(localPart, hostName).map(([l, h]) => `${l}@${h}.example`).filter((e) => EmailAddress.safeParse(e).success);
const timeZone = valid(TimeZoneName, 'AZaz09_+-/', 1, 20);
const wgKey = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => Buffer.from(b).toString('base64')).filter((k) => WireguardKey.safeParse(k).success);
const endpointName = valid(PhoneEndpointName, 'abcXYZ019_.-', 1, 20);

interface SiteDraft {
  readonly id: string;
  readonly timezone: string;
  readonly wgKey: string;
  readonly extensions: readonly { name: string; endpoint: string | null; secret: string; voicemail: { pin: string; email: string | null } | null }[];
  readonly trunks: readonly { name: string; host: string; username: string; secret: string; register: boolean; fromUser: string | null }[];
}

const siteDraft = (id: string): fc.Arbitrary<SiteDraft> =>
  fc.record({
    id: fc.constant(id),
    timezone: timeZone,
    wgKey,
    extensions: fc.array(
      fc.record({
        name: displayName,
        endpoint: fc.option(endpointName),
        secret,
        voicemail: fc.option(fc.record({ pin, email: fc.option(email) })),
      }),
      { minLength: 1, maxLength: 4 },
    ),
    trunks: fc.uniqueArray(
      fc.record({ name: asteriskName, host: hostName, username: sipUser, secret, register: fc.boolean(), fromUser: fc.option(sipUser) }),
      { maxLength: 2, selector: (t) => t.name.toLowerCase() },
    ),
  });

const federationDraft = fc
  .uniqueArray(valid({ safeParse: (s) => ({ success: /^[a-z][a-z0-9-]{0,30}$/.test(String(s)) }) }, 'abcz09-', 1, 12), { minLength: 2, maxLength: 3 })
  .chain((ids) => fc.tuple(...ids.map(siteDraft)))
  .chain((sites) => fc.tuple(fc.constant(sites), fc.array(fc.record({ secret, registration: fc.boolean() }), { minLength: 3, maxLength: 3 })))
  .filter(([sites]) => new Set(sites.map((s) => s.wgKey)).size === sites.length);

function federationOf([sites, links]: [SiteDraft[], { secret: string; registration: boolean }[]]): FederationInput {
  const fed: FederationInput = {
    sites: [],
    numberRanges: [],
    extensions: [],
    trunks: [],
    links: [],
    outboundRoutes: [],
    inboundRoutes: [],
    callFlows: [],
    classesOfService: [{ id: 'cos-all', name: 'all', allow: ['internal', 'local', 'national', 'international', 'premium'] }],
  };
  sites.forEach((s, i) => {
    const first = (i + 1) * 100;
    fed.sites.push({
      id: s.id,
      name: `Site ${i}`,
      timezone: s.timezone,
      defaultClassOfServiceId: 'cos-all',
      // An emergency number in no range (#17): the ranges are (i + 1) * 100 and up.
      emergencyNumbers: ['0112'],
      network: { vpnAddress: `10.77.0.${i + 1}`, sipPort: 5060, wireguardPublicKey: s.wgKey, ...(i === 0 ? { wireguardEndpoint: `vpn${i}.example:51820` } : {}) },
    });
    fed.numberRanges.push({ id: `r-${s.id}`, siteId: s.id, from: String(first), to: String(first + 99) });
    const endpoints = new Set<string>();
    s.extensions.forEach((e, k) => {
      const number = String(first + k);
      // An endpoint is unique at its site and is not another phone's number (the default endpoint name).
      const endpoint = e.endpoint !== null ? `${e.endpoint.slice(0, 50)}-x${k}` : undefined;
      if (endpoint !== undefined) endpoints.add(endpoint);
      fed.extensions.push({
        id: `e-${s.id}-${k}`,
        siteId: s.id,
        number,
        displayName: e.name,
        ...(endpoint !== undefined ? { endpoint } : {}),
        sipSecret: e.secret,
        voicemail: e.voicemail !== null,
        ...(e.voicemail !== null ? { voicemailPin: e.voicemail.pin, ...(e.voicemail.email !== null ? { email: e.voicemail.email } : {}) } : {}),
      });
    });
    // Every site with phones has an emergency-capable trunk of its own (#17); the generated names never spell "sos".
    fed.trunks.push({ id: `t-${s.id}-sos`, siteId: s.id, name: 'sos', host: 'sip.sos.example' });
    s.trunks.forEach((t, k) => {
      fed.trunks.push({
        id: `t-${s.id}-${k}`,
        siteId: s.id,
        name: t.name,
        host: t.host,
        username: t.username,
        secret: t.secret,
        register: t.register,
        ...(t.fromUser !== null ? { fromUser: t.fromUser } : {}),
      });
    });
    const mailbox = fed.extensions.find((e) => e.siteId === s.id && e.voicemail === true);
    if (mailbox !== undefined) {
      fed.callFlows.push({ id: `f-${s.id}`, siteId: s.id, name: 'Mailbox', entry: 'vm', nodes: [{ id: 'vm', type: 'voicemail', mailbox: mailbox.number }] });
      fed.inboundRoutes.push({ id: `ir-${s.id}-vm`, siteId: s.id, did: `7${first}99`, destination: { type: 'voicemail', mailbox: mailbox.number } });
    }
    fed.inboundRoutes.push({ id: `ir-${s.id}`, siteId: s.id, did: `7${first}00`, destination: { type: 'extension', number: String(first) } });
  });
  for (let a = 0; a < sites.length; a++) {
    for (let b = a + 1; b < sites.length; b++) {
      const l = links[a + b - 1] as { secret: string; registration: boolean };
      const [x, y] = [(sites[a] as SiteDraft).id, (sites[b] as SiteDraft).id];
      fed.links.push({ id: `l-${x}-${y}`, a: x, b: y, secret: l.secret, ...(l.registration ? { mode: 'registration' as const, registrant: y } : {}) });
    }
  }
  return fed;
}

const variables = (text: string, category: string) => readAsteriskConfig(text).variables.filter((v) => v.category === category);

describe('every federation the contracts accept, every renderer renders (property)', () => {
  it('pjsip, extensions, voicemail and wireguard render, and config.c reads back exactly the values that went in', () => {
    fc.assert(
      fc.property(federationDraft, (draft) => {
        const fed = Federation.parse(federationOf(draft));
        const validation = validateFederation(fed, { validateCallFlows: validateFederationFlows });
        expect(validation.errors).toEqual([]);
        for (const site of fed.sites) {
          const config = buildSiteConfig(fed, site.id);
          const pjsip = renderPjsip(config);
          const extensions = renderExtensions(config, { agiHost: '127.0.0.1', agiPort: 4573 });
          const voicemail = renderVoicemail(config);
          const mesh = wireguardMeshFor(config);
          if (mesh === undefined) throw new Error('every generated site has a tunnel address');
          const wireguard = renderWireguard({ ...mesh, privateKeyPath: '/etc/wireguard/fedpbx0.key' });
          expect(wireguard).toContain('[Interface]');

          for (const text of [pjsip, extensions, voicemail]) expect(readAsteriskConfig(text).problems).toEqual([]);
          // pjsip: each auth's password and username as Asterisk reads them.
          for (const t of config.trunks) {
            const auth = variables(pjsip, `trunk-${t.name}`);
            expect(auth.find((v) => v.name === 'password')?.value).toBe(t.secret);
            expect(auth.find((v) => v.name === 'username')?.value).toBe(t.username);
          }
          for (const e of config.extensions) {
            const auth = variables(pjsip, e.endpoint ?? e.number);
            expect(auth.find((v) => v.name === 'password')?.value).toBe(e.sipSecret);
          }
          for (const l of config.links) {
            const peer = l.a === site.id ? l.b : l.a;
            expect(variables(pjsip, `site-${peer}-out`).find((v) => v.name === 'password')?.value).toBe(l.secret);
          }
          // voicemail: mailbox => pin,name[,email] split as app_voicemail's append_mailbox does.
          const boxes = variables(voicemail, 'fedpbx');
          const withVoicemail = config.extensions.filter((e) => e.voicemail);
          expect(boxes.map((b) => b.name)).toEqual(withVoicemail.map((e) => e.number).sort());
          for (const e of withVoicemail) {
            const [p, name, mail, ...rest] = (boxes.find((b) => b.name === e.number)?.value ?? '').split(',');
            expect({ p, name, mail, rest }).toEqual({ p: e.voicemailPin, name: e.displayName.trim(), mail: e.email, rest: [] });
          }
          // extensions: every exten/same line survives whole (nothing cut off by a ; or lost to a long line).
          const dialplanLines = extensions.split('\n').filter((l) => l.startsWith('exten =>') || l.startsWith(' same =>'));
          const read = readAsteriskConfig(extensions).variables.filter((v) => v.name === 'exten' || v.name === 'same');
          expect(read).toHaveLength(dialplanLines.length);
          // An application step ends in `)`; a hint line is `name,hint,<device>` whole.
          for (const v of read) expect(v.value.endsWith(')') || /^[0-9]+,hint,(?:PJSIP\/[A-Za-z0-9_.-]+|Custom:fedpbx-[a-z0-9-]+-[0-9]+)$/.test(v.value), v.value).toBe(true);
        }
      }),
      { numRuns: 40 },
    );
  });
});

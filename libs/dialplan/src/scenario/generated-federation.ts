import type { CallFlow, Federation, InterSiteLink, OutboundRoute } from '@fedpbx/contracts';

export interface GeneratedFederationOptions {
  readonly sites: number;
  readonly extensionsPerSite: number;
  /** Sites that get a reception call flow (time condition, IVR, ring group, voicemail). */
  readonly flows: number;
  /** Every `prefixEvery`-th site gets a site prefix (and every 10th of those a private, overlapping plan). */
  readonly prefixEvery?: number;
}

export const siteIdOf = (i: number): string => `site-${String(i).padStart(4, '0')}`;
/** First number of site i's range: 6-digit numbers, 200 per site. */
export const rangeStartOf = (i: number): number => 100000 + i * 200;
/** The city number block of site i for tail-end hop-off: 8 + 4-digit area + 6 digits. */
export const cityPrefixOf = (i: number): string => `8${String(2000 + i).padStart(4, "0")}`;

/**
 * A large, valid federation for benchmarks and property tests: `sites` sites in a hub-and-spoke-plus-ring
 * topology (site 0 is the hub), one flat range of 200 six-digit numbers each, one PSTN trunk each, a local
 * route per site, one tail-end hop-off route per site's city (its trunk first, the hub's as fallback: 2,000
 * patterns for 1,000 sites), national/international/premium routes, DID blocks, and reception flows.
 * Deterministic: the same options give the same federation.
 */
export function generateFederation(o: GeneratedFederationOptions): Federation {
  const prefixEvery = o.prefixEvery ?? 20;
  const fed: Federation = {
    sites: [],
    numberRanges: [],
    extensions: [],
    trunks: [],
    links: [],
    outboundRoutes: [],
    inboundRoutes: [],
    callFlows: [],
    classesOfService: [
      { id: 'cos-internal', name: 'internal-only', allow: ['internal'] },
      { id: 'cos-local', name: 'local', allow: ['internal', 'local'] },
      { id: 'cos-national', name: 'national', allow: ['internal', 'local', 'national'] },
      { id: 'cos-international', name: 'international', allow: ['internal', 'local', 'national', 'international'] },
    ],
    hubSiteId: siteIdOf(0),
  };
  const cosIds = ['cos-national', 'cos-national', 'cos-international', 'cos-local', 'cos-internal'];
  let prefixCount = 0;
  for (let i = 0; i < o.sites; i++) {
    const id = siteIdOf(i);
    const prefixed = i > 0 && i % prefixEvery === 0 && prefixCount < 900;
    const prefix = prefixed ? `7${String(100 + prefixCount++).slice(-3)}` : undefined;
    const isPrivate = prefixed && prefixCount % 10 === 0;
    const start = isPrivate ? rangeStartOf(i - 1) : rangeStartOf(i);
    fed.sites.push({
      id,
      name: `Office ${i}`,
      ...(prefix !== undefined ? { prefix } : {}),
      prefixRequired: isPrivate,
      timezone: 'Europe/Moscow',
      defaultClassOfServiceId: 'cos-national',
      classOfServiceCeiling: ['internal', 'local', 'national', 'international', 'premium'],
      emergencyNumbers: ['112'],
      mainNumber: `${cityPrefixOf(i)}000000`,
      network: { vpnAddress: `10.${64 + (i >> 8)}.${i & 255}.1`, sipPort: 5060 },
      recording: { interSite: i % 3 === 0, external: false, retentionDays: 90 },
      ringTimeoutSec: 30,
    });
    fed.numberRanges.push({ id: `r-${id}`, siteId: id, from: String(start), to: String(start + 199), pstnPrefix: `${cityPrefixOf(i)}` });
    for (let e = 0; e < o.extensionsPerSite; e++) {
      const number = String(start + e);
      fed.extensions.push({
        id: `e-${id}-${e}`,
        siteId: id,
        number,
        displayName: `User ${i}-${e}`,
        classOfServiceId: cosIds[e % cosIds.length] as string,
        sipSecret: `sip-${id}-${e}-secret`,
        voicemail: e % 4 === 0,
        ...(e % 4 === 0 ? { voicemailPin: String(100000 + i * 1000 + e) } : {}),
        ringTimeoutSec: 20,
      });
    }
    fed.trunks.push({
      id: `t-${id}`,
      siteId: id,
      name: 'city',
      host: `sip.carrier${i}.example`,
      port: 5060,
      transport: 'udp',
      register: i % 2 === 0,
      username: `fed${i}`,
      secret: `trunk-${id}-secret`,
      codecs: ['alaw', 'ulaw'],
      emergency: true,
    });
    fed.outboundRoutes.push({ id: `or-local-${id}`, name: `Local ${i}`, patterns: ['_[2-6]XXXXXX'], callClass: 'local', sites: [id], trunks: [{ trunkId: `t-${id}`, strip: 0, prepend: '' }] });
    fed.outboundRoutes.push({
      id: `or-teho-${id}`,
      name: `City of office ${i}`,
      patterns: [`_${cityPrefixOf(i)}XXXXXX`],
      callClass: 'national',
      sites: [],
      trunks: [
        { trunkId: `t-${id}`, strip: 5, prepend: '' },
        { trunkId: `t-${siteIdOf(0)}`, strip: 0, prepend: '' },
      ],
    });
    fed.inboundRoutes.push({ id: `ir-${id}`, siteId: id, did: `_${cityPrefixOf(i).slice(1)}XXXXXX`, destination: { type: 'did-suffix', digits: 6 } });
    if (i > 0) fed.links.push(link(siteIdOf(0), id));
    if (i > 1) fed.links.push(link(siteIdOf(i - 1), id));
    if (i < o.flows) fed.callFlows.push(receptionFlow(id, start, Math.min(o.extensionsPerSite, 3)));
  }
  const hubTrunk = [{ trunkId: `t-${siteIdOf(0)}`, strip: 0, prepend: '' }];
  const shared: OutboundRoute[] = [
    { id: 'or-national', name: 'National', patterns: ['_8XXXXXXXXXX'], callClass: 'national', sites: [], trunks: hubTrunk },
    { id: 'or-international', name: 'International', patterns: ['_810X.'], callClass: 'international', sites: [], trunks: hubTrunk },
    { id: 'or-premium', name: 'Premium', patterns: ['_8809XXXXXXX'], callClass: 'premium', sites: [], trunks: hubTrunk },
  ];
  fed.outboundRoutes.push(...shared);
  return fed;
}

function link(a: string, b: string): InterSiteLink {
  return { id: `l-${a}-${b}`, a, b, mode: 'ip', secret: `link-${a}-${b}-secret`, codecs: ['alaw', 'ulaw'] };
}

function receptionFlow(siteId: string, start: number, members: number): CallFlow {
  const ext = (k: number) => String(start + k);
  return {
    id: `f-${siteId}`,
    siteId,
    name: `Reception ${siteId}`,
    number: String(start + 199),
    entry: 'hours',
    nodes: [
      { id: 'hours', type: 'time-condition', schedule: { timezone: 'Europe/Moscow', windows: [{ days: [1, 2, 3, 4, 5], start: '09:00', end: '18:00' }], holidays: [] }, next: { match: 'menu', nomatch: 'vm' } },
      { id: 'menu', type: 'ivr-menu', prompt: 'fedpbx/welcome', timeoutSec: 5, retries: 1, next: { 'digit:1': 'group', 'digit:2': 'operator', timeout: 'operator', invalid: 'operator' } },
      { id: 'group', type: 'ring-group', members: Array.from({ length: Math.max(1, members) }, (_, k) => ext(k)), strategy: 'ringall', timeoutSec: 20, next: { noanswer: 'vm', busy: 'vm', unavailable: 'vm' } },
      { id: 'operator', type: 'dial-extension', number: ext(0), timeoutSec: 20, next: { noanswer: 'vm', busy: 'vm', unavailable: 'vm' } },
      { id: 'vm', type: 'voicemail', mailbox: ext(0), next: {} },
    ],
  };
}

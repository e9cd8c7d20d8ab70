import { Federation, type FederationInput } from '@fedpbx/contracts';

/**
 * The founding scenario (shared/reference/seed-scenario.md) as data: moscow (100-299 but 112) and piter (300-499) call
 * each other directly over an IP-identified link; kazan's plan overlaps moscow's and is private behind site
 * prefix 6 (moscow is reachable from kazan as 5 + number); calls to St Petersburg city numbers leave through
 * piter's own trunk (tail-end hop-off) and fall back to moscow's trunk; inter-site calls are recorded both ways.
 * Used by tests, the benchmark, the demo and the controller's seed.
 */
export function foundingScenarioInput(): FederationInput {
  return {
    sites: [
      {
        id: 'moscow',
        name: 'Moscow head office',
        prefix: '5',
        timezone: 'Europe/Moscow',
        defaultClassOfServiceId: 'cos-national',
        emergencyNumbers: ['112'],
        mainNumber: '84955550100',
        network: { vpnAddress: '10.77.0.1', sipPort: 5060 },
        recording: { interSite: true, external: false, retentionDays: 90 },
      },
      {
        id: 'piter',
        name: 'St Petersburg office',
        timezone: 'Europe/Moscow',
        defaultClassOfServiceId: 'cos-national',
        emergencyNumbers: ['112'],
        mainNumber: '88125550300',
        network: { vpnAddress: '10.77.0.2', sipPort: 5060 },
        recording: { interSite: true, external: false, retentionDays: 90 },
      },
      {
        id: 'kazan',
        name: 'Kazan office',
        prefix: '6',
        prefixRequired: true,
        timezone: 'Europe/Moscow',
        defaultClassOfServiceId: 'cos-local',
        classOfServiceCeiling: ['internal', 'local', 'national'],
        emergencyNumbers: ['112'],
        network: { vpnAddress: '10.77.0.3', sipPort: 5060 },
      },
    ],
    numberRanges: [
      // 112 is every site's emergency number, so no range may hold it: moscow's and kazan's 100-299 leave it out.
      { id: 'r-moscow', siteId: 'moscow', from: '100', to: '111', pstnPrefix: '84955550', description: 'Moscow phones' },
      { id: 'r-moscow-2', siteId: 'moscow', from: '113', to: '299', pstnPrefix: '84955550', description: 'Moscow phones (after emergency 112)' },
      { id: 'r-piter', siteId: 'piter', from: '300', to: '499', pstnPrefix: '88125550', description: 'St Petersburg phones' },
      { id: 'r-kazan', siteId: 'kazan', from: '100', to: '111', description: 'Kazan phones (overlaps Moscow)' },
      { id: 'r-kazan-2', siteId: 'kazan', from: '113', to: '299', description: 'Kazan phones (overlaps Moscow, after emergency 112)' },
    ],
    extensions: [
      { id: 'e-m101', siteId: 'moscow', number: '101', displayName: 'Ivan Petrov', classOfServiceId: 'cos-international', sipSecret: 'm101-secret-XYZ', voicemail: true, voicemailPin: '510101' },
      { id: 'e-m102', siteId: 'moscow', number: '102', displayName: 'Anna Smirnova', sipSecret: 'm102-secret-XYZ' },
      { id: 'e-m150', siteId: 'moscow', number: '150', displayName: 'Lobby phone', classOfServiceId: 'cos-internal', sipSecret: 'm150-secret-XYZ' },
      { id: 'e-p301', siteId: 'piter', number: '301', displayName: 'Olga Ivanova', sipSecret: 'p301-secret-XYZ', voicemail: true, voicemailPin: '520301', email: 'olga.ivanova@piter.example' },
      { id: 'e-p302', siteId: 'piter', number: '302', displayName: 'Pavel Orlov', sipSecret: 'p302-secret-XYZ' },
      { id: 'e-k101', siteId: 'kazan', number: '101', displayName: 'Rustam Khasanov', sipSecret: 'k101-secret-XYZ' },
      { id: 'e-k102', siteId: 'kazan', number: '102', displayName: 'Alsu Garipova', sipSecret: 'k102-secret-XYZ' },
    ],
    trunks: [
      { id: 't-moscow-city', siteId: 'moscow', name: 'moscow-city', host: 'sip.msk-carrier.example', register: true, username: 'fedpbx-msk', secret: 'msk-trunk-SECRET', callerIdNumber: '74955550100' },
      { id: 't-piter-city', siteId: 'piter', name: 'piter-city', host: 'sip.spb-carrier.example', register: true, username: 'fedpbx-spb', secret: 'spb-trunk-SECRET', callerIdNumber: '78125550300' },
      { id: 't-kazan-city', siteId: 'kazan', name: 'kazan-city', host: 'sip.kzn-carrier.example', username: 'fedpbx-kzn', secret: 'kzn-trunk-SECRET' },
    ],
    links: [
      { id: 'l-moscow-piter', a: 'moscow', b: 'piter', mode: 'ip', secret: 'link-mp-SECRET' },
      { id: 'l-moscow-kazan', a: 'moscow', b: 'kazan', mode: 'registration', registrant: 'kazan', secret: 'link-mk-SECRET' },
      { id: 'l-piter-kazan', a: 'piter', b: 'kazan', mode: 'ip', secret: 'link-pk-SECRET' },
    ],
    outboundRoutes: [
      // Tail-end hop-off: St Petersburg city numbers leave through piter's trunk, moscow's trunk is the fallback.
      {
        id: 'or-spb-teho',
        name: 'St Petersburg city via piter',
        patterns: ['_8812XXXXXXX'],
        callClass: 'national',
        sites: ['moscow', 'kazan'],
        trunks: [
          { trunkId: 't-piter-city', strip: 4, prepend: '' },
          { trunkId: 't-moscow-city', strip: 0, prepend: '' },
        ],
      },
      { id: 'or-msk-local', name: 'Moscow city', patterns: ['_[2-9]XXXXXX'], callClass: 'local', sites: ['moscow'], trunks: [{ trunkId: 't-moscow-city' }] },
      { id: 'or-spb-local', name: 'St Petersburg city', patterns: ['_[2-9]XXXXXX'], callClass: 'local', sites: ['piter'], trunks: [{ trunkId: 't-piter-city' }] },
      { id: 'or-kzn-local', name: 'Kazan city', patterns: ['_[2-9]XXXXXX'], callClass: 'local', sites: ['kazan'], trunks: [{ trunkId: 't-kazan-city' }] },
      { id: 'or-msk-national', name: 'Russia from Moscow', patterns: ['_8[3-9]XXXXXXXXX'], callClass: 'national', sites: ['moscow'], trunks: [{ trunkId: 't-moscow-city' }] },
      { id: 'or-spb-national', name: 'Russia from St Petersburg', patterns: ['_8[3-9]XXXXXXXXX'], callClass: 'national', sites: ['piter'], trunks: [{ trunkId: 't-piter-city' }, { trunkId: 't-moscow-city' }] },
      { id: 'or-kzn-national', name: 'Russia from Kazan', patterns: ['_8[3-9]XXXXXXXXX'], callClass: 'national', sites: ['kazan'], trunks: [{ trunkId: 't-kazan-city' }, { trunkId: 't-moscow-city' }] },
      { id: 'or-international', name: 'International', patterns: ['_810X.'], callClass: 'international', sites: ['moscow', 'piter'], trunks: [{ trunkId: 't-moscow-city' }] },
      { id: 'or-premium', name: 'Premium rate', patterns: ['_8809XXXXXXX'], callClass: 'premium', sites: [], trunks: [{ trunkId: 't-moscow-city' }] },
    ],
    inboundRoutes: [
      { id: 'ir-msk-main', siteId: 'moscow', did: '74955550100', destination: { type: 'flow', flowId: 'f-moscow-reception' } },
      { id: 'ir-msk-did', siteId: 'moscow', did: '_749555501XX', destination: { type: 'did-suffix', digits: 3 } },
      { id: 'ir-spb-main', siteId: 'piter', did: '78125550300', destination: { type: 'extension', number: '301' } },
      { id: 'ir-spb-did', siteId: 'piter', did: '_7812555030X', destination: { type: 'did-suffix', digits: 3 } },
    ],
    callFlows: [
      {
        id: 'f-moscow-reception',
        siteId: 'moscow',
        name: 'Moscow reception',
        number: '200',
        entry: 'hours',
        nodes: [
          {
            id: 'hours',
            type: 'time-condition',
            schedule: { timezone: 'Europe/Moscow', windows: [{ days: [1, 2, 3, 4, 5], start: '09:00', end: '18:00' }], holidays: ['2026-12-31'] },
            next: { match: 'menu', nomatch: 'closed' },
          },
          { id: 'menu', type: 'ivr-menu', prompt: 'fedpbx/welcome', timeoutSec: 5, retries: 2, next: { 'digit:1': 'sales', 'digit:2': 'spb', timeout: 'operator', invalid: 'operator' } },
          { id: 'sales', type: 'ring-group', members: ['101', '102'], strategy: 'ringall', timeoutSec: 20, next: { noanswer: 'vm', busy: 'vm', unavailable: 'vm' } },
          { id: 'spb', type: 'dial-extension', number: '301', timeoutSec: 20, next: { noanswer: 'vm', busy: 'vm', unavailable: 'vm' } },
          { id: 'operator', type: 'dial-extension', number: '101', timeoutSec: 20, next: { noanswer: 'vm', busy: 'vm', unavailable: 'vm' } },
          { id: 'closed', type: 'playback', sound: 'fedpbx/closed', next: { next: 'vm' } },
          { id: 'vm', type: 'voicemail', mailbox: '101' },
        ],
      },
    ],
    classesOfService: [
      { id: 'cos-internal', name: 'internal-only', allow: ['internal'] },
      { id: 'cos-local', name: 'local', allow: ['internal', 'local'] },
      { id: 'cos-national', name: 'national', allow: ['internal', 'local', 'national'] },
      { id: 'cos-international', name: 'international', allow: ['internal', 'local', 'national', 'international'] },
    ],
  };
}

/** The founding scenario, parsed (defaults applied). */
export function foundingScenario(): Federation {
  return Federation.parse(foundingScenarioInput());
}

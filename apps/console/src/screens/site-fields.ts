import type { ClassOfService, Site } from '../api/types';
import type { FieldDef } from '../ui/resource-form';

const GRANTABLE = [
  { value: 'internal', label: 'internal' },
  { value: 'local', label: 'local' },
  { value: 'national', label: 'national' },
  { value: 'international', label: 'international' },
  { value: 'premium', label: 'premium' },
];
export const CALL_CLASS_OPTIONS = GRANTABLE;

/** The browser's time zone: the likeliest one for an office its admin sets up. */
const browserTimezone = (): string => {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
  } catch {
    return 'UTC';
  }
};

/**
 * A one-digit prefix that neither another site's prefix nor the first digit of any internal number uses (so
 * dialling it is never ambiguous), if one is left: 2-9, since 0 and 1 usually start outside and emergency calls.
 */
export function suggestPrefix(sites: readonly Pick<Site, 'prefix'>[], ranges: readonly { from: string; to: string }[]): string | undefined {
  const used = new Set<string | undefined>(sites.map((s) => s.prefix));
  // A range's numbers start with every digit from its first number's to its last's (100-299: 1 and 2).
  for (const r of ranges) for (let d = Number(r.from[0]); d <= Number(r.to[0]); d++) used.add(String(d));
  return ['2', '3', '4', '5', '6', '7', '8', '9'].find((p) => !used.has(p));
}

/** Starting values of a new site: what the founding scenario's offices use, so most can stay as they are. */
export function newSiteDefaults(sites: readonly Site[], ranges: readonly { from: string; to: string }[]): Record<string, unknown> {
  const prefix = suggestPrefix(sites, ranges);
  return {
    ...(prefix !== undefined ? { prefix } : {}),
    prefixRequired: false,
    timezone: browserTimezone(),
    classOfServiceCeiling: GRANTABLE.map((c) => c.value),
    emergencyNumbers: ['112'],
    ringTimeoutSec: 30,
    recording: { interSite: false, external: false, retentionDays: 90 },
    // @fedpbx/contracts DEFAULT_SIP_PORT (types only reach the browser): not 5060, which the stock pjsip.conf binds.
    network: { sipPort: 5070 },
  };
}

const ID_FIELD: FieldDef = {
  name: 'id',
  label: 'Site id',
  kind: 'text',
  required: true,
  placeholder: 'ufa',
  help: 'A short lower-case name (a letter, then a-z, 0-9 or -). The agent and the PBX configuration use it; it cannot be changed later.',
};

/** Properties only head office sets (the API refuses them to a site admin with 403). */
const headOfficeFields = (): FieldDef[] => [
  {
    name: 'prefix',
    label: 'Site prefix',
    kind: 'text',
    inputMode: 'numeric',
    placeholder: '5',
    help: '1–4 digits. From any other office, prefix + number reaches a phone here (e.g. 5 then 101). Every office gets its own.',
  },
  {
    name: 'prefixRequired',
    label: 'Private numbering: reach only through the prefix',
    kind: 'checkbox',
    help: 'Tick when this office’s numbers overlap another office’s (both have a 101): other offices must then dial prefix + number, and the plan stays valid. Needs a prefix.',
  },
  {
    name: 'classOfServiceCeiling',
    label: 'What phones here may ever dial (ceiling)',
    kind: 'choices',
    options: GRANTABLE,
    help: 'The most a site admin can allow any phone of this office. Emergency numbers always work.',
  },
  {
    name: 'emergencyNumbers',
    label: 'Emergency numbers',
    kind: 'list',
    placeholder: '112',
    help: 'Comma-separated, at least one. Always sent out through this office’s own emergency-capable trunk, whatever the class of service or link state; no number range may contain one.',
  },
  {
    name: 'network.vpnAddress',
    label: 'VPN address (optional)',
    kind: 'text',
    placeholder: '10.20.0.5',
    help: 'This office’s address inside the site-to-site VPN. Links between offices use it; the agent can fill it in when it enrolls.',
  },
];

/**
 * One watched site in the Presence box: `piter` (every extension it shares) or `piter: 301 302` (those only).
 * Numbers are kept as typed; the API says which entry is wrong.
 */
export function watchFromText(text: string): { siteId: string; numbers?: string[] } {
  const colon = text.indexOf(':');
  if (colon < 0) return { siteId: text.trim() };
  return { siteId: text.slice(0, colon).trim(), numbers: text.slice(colon + 1).split(/\s+/).filter((n) => n !== '') };
}

export function watchToText(item: unknown): string {
  const w = item as { siteId: string; numbers?: readonly string[] };
  return w.numbers === undefined ? w.siteId : `${w.siteId}: ${w.numbers.join(' ')}`;
}

/** A site's busy-lamp setting (contracts PresenceSettings): what it shares, which other sites' lamps it shows. */
const presenceFields = (): FieldDef[] => [
  {
    name: 'presence.share',
    label: 'Busy lamps: whose state other offices may see',
    kind: 'select',
    options: [
      { value: 'all', label: 'every extension of this office' },
      { value: 'listed', label: 'only the extensions listed below' },
      { value: 'none', label: 'none' },
    ],
  },
  {
    name: 'presence.sharedNumbers',
    label: 'Extensions whose state is shared',
    kind: 'list',
    placeholder: '101, 102',
    help: 'Comma-separated extension numbers of this office.',
    showIf: (v) => v['presence.share'] === 'listed',
  },
  {
    name: 'presence.remoteHints',
    label: 'Busy lamps of other offices shown here',
    kind: 'select',
    options: [
      { value: 'none', label: 'none' },
      { value: 'listed', label: 'the offices (and extensions) listed below' },
      { value: 'all', label: 'every shared extension of every office this one reaches' },
    ],
    help: 'Each shown extension gets a hint a phone’s BLF key can watch. “Every” at a head office can mean many thousands of hints.',
  },
  {
    name: 'presence.watch',
    label: 'Offices whose lamps are shown',
    kind: 'list',
    placeholder: 'piter, kazan: 201 202',
    help: 'Comma-separated site ids; “site: numbers” shows only those extensions of it. The agent can read a newly listed office’s lamps at once.',
    showIf: (v) => v['presence.remoteHints'] === 'listed',
    toItem: watchFromText,
    fromItem: watchToText,
  },
];

/** Settings a site's own admin may change too. */
const siteFields = (classes: readonly ClassOfService[]): FieldDef[] => [
  { name: 'name', label: 'Name', kind: 'text', required: true, placeholder: 'Ufa branch' },
  { name: 'timezone', label: 'Time zone', kind: 'text', placeholder: 'Europe/Moscow', help: 'An IANA name such as Europe/Moscow. Office-hours steps of call flows use it.' },
  {
    name: 'defaultClassOfServiceId',
    label: 'Default class of service',
    kind: 'select',
    optional: true,
    options: classes.map((c) => ({ value: c.id, label: `${c.name} (${c.allow.join(', ')})` })),
    help: 'What a phone may dial when its extension names no class of service.',
  },
  { name: 'mainNumber', label: 'Main number on the phone network (optional)', kind: 'text', inputMode: 'tel', placeholder: '+78435550100', help: 'The office’s public number. Other offices fall back to calling it when the link here is down.' },
  { name: 'ringTimeoutSec', label: 'Ring calls from other offices for (seconds)', kind: 'number', min: 5, max: 300 },
  { name: 'recording.interSite', label: 'Record calls between offices', kind: 'checkbox', help: 'Both directions. Recordings are kept at this office.' },
  { name: 'recording.external', label: 'Record calls to and from the phone network', kind: 'checkbox' },
  { name: 'recording.retentionDays', label: 'Keep recordings for (days)', kind: 'number', min: 1, max: 3650 },
  { name: 'network.sipHost', label: 'SIP host (optional)', kind: 'text', help: 'Where other offices send calls for this one. Empty: the VPN address.' },
  { name: 'network.sipPort', label: 'SIP port', kind: 'number', min: 1, max: 65535 },
  { name: 'network.wireguardEndpoint', label: 'WireGuard endpoint (optional)', kind: 'text', placeholder: 'vpn.ufa.example:51820', help: 'host:port, only if this office accepts VPN tunnels from the internet (usually head office).' },
  ...presenceFields(),
];

/** The site form's fields: a new site (head office) names its id; a site admin never sees head-office settings. */
export function siteFormFields(mode: 'create' | 'edit', headOffice: boolean, classes: readonly ClassOfService[]): FieldDef[] {
  const [name, ...rest] = siteFields(classes);
  return [...(mode === 'create' ? [ID_FIELD] : []), ...(name !== undefined ? [name] : []), ...(headOffice ? headOfficeFields() : []), ...rest];
}

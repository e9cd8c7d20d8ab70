/**
 * Test-only helpers for the renderer specs (the `.test.ts` suffix keeps this file out of the library build and
 * out of vitest's `*.spec.ts` run). `siteConfigFor` is a small stand-in for the real per-site snapshot builder:
 * it cuts the founding scenario down to what one site may know.
 */
import { SiteConfig, type Federation } from '@fedpbx/contracts';
import { foundingScenario } from '../scenario/founding-scenario.js';

export function siteConfigFor(siteId: string, federation: Federation = foundingScenario()): SiteConfig {
  const site = federation.sites.find((s) => s.id === siteId);
  if (site === undefined) throw new Error(`no site ${siteId}`);
  return SiteConfig.parse({
    site,
    federation: {
      sites: federation.sites.map((s) => ({
        id: s.id,
        name: s.name,
        prefix: s.prefix,
        prefixRequired: s.prefixRequired,
        mainNumber: s.mainNumber,
        network: { vpnAddress: s.network.vpnAddress, sipHost: s.network.sipHost, sipPort: s.network.sipPort },
        ringTimeoutSec: s.ringTimeoutSec,
      })),
      numberRanges: federation.numberRanges,
      hubSiteId: federation.hubSiteId,
    },
    extensions: federation.extensions.filter((e) => e.siteId === siteId),
    trunks: federation.trunks.filter((t) => t.siteId === siteId),
    remoteTrunks: federation.trunks.filter((t) => t.siteId !== siteId).map((t) => ({ id: t.id, siteId: t.siteId, name: t.name })),
    links: federation.links.filter((l) => l.a === siteId || l.b === siteId),
    outboundRoutes: federation.outboundRoutes.filter((r) => r.sites.length === 0 || r.sites.includes(siteId)),
    inboundRoutes: federation.inboundRoutes.filter((r) => r.siteId === siteId),
    callFlows: federation.callFlows.filter((f) => f.siteId === siteId),
    classesOfService: federation.classesOfService,
  });
}

/** Every secret in the federation, by owner: `site` for extensions and trunks, the pair for links. */
export function secretsOf(federation: Federation): { secret: string; owners: string[] }[] {
  return [
    ...federation.extensions.flatMap((e) => (e.sipSecret === undefined ? [] : [{ secret: e.sipSecret, owners: [e.siteId] }])),
    ...federation.trunks.flatMap((t) => (t.secret === undefined ? [] : [{ secret: t.secret, owners: [t.siteId] }])),
    ...federation.links.flatMap((l) => (l.secret === undefined ? [] : [{ secret: l.secret, owners: [l.a, l.b] }])),
  ];
}

export interface IniSection {
  readonly name: string;
  readonly type: string;
  readonly options: ReadonlyMap<string, string>;
  readonly line: number;
}

/**
 * A strict reader of the renderer's pjsip.conf output, stricter than Asterisk: only comments, blank lines,
 * `[name]` headers and `key=value` lines; `type=` exactly once and first; no key twice in a section; `\;`
 * unescaped in values; any other `;` is an error (it would have cut the value).
 */
export function parseIniStrict(text: string): IniSection[] {
  if (!text.endsWith('\n') || text.includes('\r')) throw new Error('lines must end with LF only');
  const sections: { name: string; type?: string; options: Map<string, string>; line: number }[] = [];
  text
    .slice(0, -1)
    .split('\n')
    .forEach((line, index) => {
      const lineNo = index + 1;
      if (line === '' || line === ';' || line.startsWith('; ')) return;
      const header = /^\[([A-Za-z0-9][A-Za-z0-9_.-]*)\]$/.exec(line);
      if (header !== null) {
        sections.push({ name: header[1] as string, options: new Map(), line: lineNo });
        return;
      }
      const option = /^([a-z][a-z0-9_]*)=(.+)$/.exec(line);
      const current = sections[sections.length - 1];
      if (option === null || current === undefined) throw new Error(`line ${lineNo}: not a section or option: ${line}`);
      const [, key, raw] = option as unknown as [string, string, string];
      if (/(^|[^\\]);/.test(raw)) throw new Error(`line ${lineNo}: unescaped ; in value`);
      if (raw !== raw.trim() || raw.startsWith('>')) throw new Error(`line ${lineNo}: value would be altered by Asterisk`);
      const value = raw.replaceAll('\\;', ';');
      if (key === 'type') {
        if (current.type !== undefined) throw new Error(`line ${lineNo}: second type= in [${current.name}]`);
        if (current.options.size > 0) throw new Error(`line ${lineNo}: type= must come first in [${current.name}]`);
        current.type = value;
        return;
      }
      if (current.type === undefined) throw new Error(`line ${lineNo}: option before type= in [${current.name}]`);
      if (current.options.has(key)) throw new Error(`line ${lineNo}: ${key} twice in [${current.name}]`);
      current.options.set(key, value);
    });
  return sections.map((s) => {
    if (s.type === undefined) throw new Error(`[${s.name}] at line ${s.line} has no type=`);
    return { name: s.name, type: s.type, options: s.options, line: s.line };
  });
}

export interface DialplanExtension {
  readonly context: string;
  readonly name: string;
  /** Application calls in priority order: `App(data)`. */
  readonly steps: readonly { app: string; data: string; label?: string }[];
  /** The device of its `hint` priority (`exten => name,hint,device`), if it has one. */
  readonly hint?: string;
}

/** Reads the renderer's extensions.conf output: `[context]`, `exten => name,1,App(data)`, ` same => n,App(data)`. */
export function parseDialplan(text: string): DialplanExtension[] {
  const out: { context: string; name: string; steps: { app: string; data: string; label?: string }[]; hint?: string }[] = [];
  let context: string | undefined;
  text
    .split('\n')
    .forEach((line, index) => {
      if (line === '' || line.startsWith('; ') || /^include => [A-Za-z0-9_-]+$/.test(line)) return;
      const header = /^\[([A-Za-z0-9_-]+)\]$/.exec(line);
      if (header !== null) {
        context = header[1];
        return;
      }
      const hint = /^exten => ([^,]+),hint,(\S+)$/.exec(line);
      if (hint !== null && context !== undefined) {
        out.push({ context, name: hint[1] as string, steps: [], hint: hint[2] as string });
        return;
      }
      const exten = /^exten => ([^,]+),1(?:\(([a-z-]+)\))?,([A-Za-z]+)\((.*)\)$/.exec(line);
      const same = /^ same => n(?:\(([a-z-]+)\))?,([A-Za-z]+)\((.*)\)$/.exec(line);
      if (exten !== null && context !== undefined) {
        out.push({ context, name: exten[1] as string, steps: [{ app: exten[3] as string, data: exten[4] as string, label: exten[2] }] });
      } else if (same !== null && out.length > 0) {
        out[out.length - 1]?.steps.push({ app: same[2] as string, data: same[3] as string, label: same[1] });
      } else {
        throw new Error(`line ${index + 1}: not dialplan: ${line}`);
      }
    });
  return out;
}

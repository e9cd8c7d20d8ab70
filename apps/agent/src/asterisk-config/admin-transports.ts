/**
 * The admin's own PJSIP transports, read from pjsip.conf (and the files it includes, fedpbx's own left out), and what
 * they mean for fedpbx's federation transport. Two ways a transport of the admin breaks federation (both observed
 * on Asterisk 22.10.1, asterisk-protocols.md "Observed in the field"):
 * - a UDP bind that overlaps ours - `0.0.0.0:<port>` (every address) or our address on our port - makes Asterisk
 *   fail to start `fedpbx-transport` ("Address already in use"; Linux bind() without SO_REUSEADDR). IPv6 sockets are
 *   V6ONLY in pjlib, so `[::]:<port>` does not take an IPv4 address (pjsip.conf.sample runs `0.0.0.0` and `::` on 5060
 *   side by side). Every inter-site endpoint is then without a transport;
 * - a UDP transport on our port at another address: when the kernel's source address towards a peer is that
 *   address, res_pjsip (pjsip_message_filter.c filter_on_tx_message / get_udp_transport) writes it into Via, Contact
 *   and a host-address SDP `c=` of our requests and registrations, although the packet leaves from our address.
 * Both are fixed on fedpbx's side by a `sipPort` no admin transport uses (the default, 5070, is not 5060).
 */
import { readFile } from 'node:fs/promises';
import { isAbsolute, join, basename } from 'node:path';
import type { SiteNetwork } from '@fedpbx/contracts';
import { PJSIP_FILE_NAME } from '@fedpbx/dialplan';

export interface BindAddress {
  readonly family: 4 | 6;
  readonly host: string;
  readonly port: number;
  /** 0.0.0.0 or [::]: every address of the family. */
  readonly any: boolean;
}

export interface AdminTransport {
  readonly name: string;
  readonly protocol: string;
  readonly bind: BindAddress;
  /** As written, e.g. `0.0.0.0:5090`. */
  readonly bindText: string;
  /** The file (relative to the config dir as included) and line of its `[name]` header. */
  readonly file: string;
  readonly line: number;
}

export interface TransportProblems {
  /** An admin UDP transport whose bind overlaps ours: Asterisk cannot start fedpbx-transport. */
  readonly conflict?: AdminTransport;
  /** An admin UDP transport on our port at another address: Via/Contact/SDP may carry its address. */
  readonly sharedPort?: AdminTransport;
}

/** config_transport.c transport_bind_handler: an address with an optional port (5060 for udp/tcp when absent). */
export function parseBind(text: string): BindAddress | undefined {
  const t = text.trim();
  const bracketed = /^\[([0-9A-Fa-f:.]*)\](?::(\d{1,5}))?$/.exec(t);
  if (bracketed !== null) return v6(bracketed[1]!, bracketed[2]);
  if (/^[0-9A-Fa-f]*:[0-9A-Fa-f:.]*$/.test(t) && t.split(':').length > 2) return v6(t, undefined);
  const v4 = /^(\d{1,3}(?:\.\d{1,3}){3})(?::(\d{1,5}))?$/.exec(t);
  if (v4 === null) return undefined;
  return { family: 4, host: v4[1]!, port: v4[2] === undefined ? 5060 : Number(v4[2]), any: v4[1] === '0.0.0.0' };
}

function v6(host: string, port: string | undefined): BindAddress {
  return { family: 6, host: host.toLowerCase(), port: port === undefined ? 5060 : Number(port), any: /^[0:]*$/.test(host) };
}

export function formatBind(b: BindAddress): string {
  return b.family === 6 ? `[${b.host}]:${b.port}` : `${b.host}:${b.port}`;
}

/** Where the renderer binds fedpbx-transport (libs/dialplan pjsip-renderer.ts renderTransport). */
export function federationBind(network: Pick<SiteNetwork, 'vpnAddress' | 'sipPort'>): BindAddress | undefined {
  const host = network.vpnAddress ?? '0.0.0.0';
  return parseBind(host.includes(':') ? `[${host}]:${network.sipPort}` : `${host}:${network.sipPort}`);
}

export function transportProblems(own: BindAddress, admin: readonly AdminTransport[]): TransportProblems {
  const udp = admin.filter((t) => t.protocol === 'udp' && t.bind.family === own.family && t.bind.port === own.port);
  const conflict = udp.find((t) => t.bind.any || own.any || t.bind.host === own.host);
  const sharedPort = conflict === undefined ? udp[0] : undefined;
  return { ...(conflict !== undefined ? { conflict } : {}), ...(sharedPort !== undefined ? { sharedPort } : {}) };
}

/** A category of the configuration as config.c builds it: its variables in order, inherited ones first. */
interface Category {
  readonly name: string;
  readonly file: string;
  readonly line: number;
  /** `(!)`: a template. Templates are no objects: res_sorcery_config browses categories without them. */
  template: boolean;
  readonly vars: [key: string, value: string][];
}

/**
 * The transports of pjsip.conf and what it includes (config.c: `#include`/`#tryinclude`, relative to the config dir
 * or absolute; `;` comments), without fedpbx's own file. Unreadable files are skipped (a missing #tryinclude is
 * normal). At most 64 files: an include loop ends there.
 *
 * Category headers as config.c reads them: `[name](!)` is a template - no object, so no transport, whatever it
 * holds; `[name](a,b)` starts with copies of the variables of the categories or templates named (found by name,
 * case-insensitively, the first defined), its own after them, so its own win (sorcery applies them in order);
 * `[name](+)` adds to the first non-template category of that name. A header naming a category not defined
 * before is a parse error in Asterisk; that section is left out here.
 */
export async function readAdminTransports(configDir: string, file = 'pjsip.conf'): Promise<AdminTransport[]> {
  const categories: Category[] = [];
  await readCategories(configDir, file, new Set<string>(), categories);
  const out: AdminTransport[] = [];
  for (const c of categories) {
    if (c.template) continue;
    const last = (key: string): string | undefined => c.vars.findLast(([k]) => k === key)?.[1];
    if (last('type')?.toLowerCase() !== 'transport') continue;
    const bindText = last('bind') ?? '0.0.0.0';
    const bind = parseBind(bindText);
    if (bind !== undefined) out.push({ name: c.name, protocol: (last('protocol') ?? 'udp').toLowerCase(), bind, bindText, file: c.file, line: c.line });
  }
  return out;
}

async function readCategories(configDir: string, file: string, seen: Set<string>, categories: Category[]): Promise<void> {
  const path = isAbsolute(file) ? file : join(configDir, file);
  if (seen.has(path) || seen.size >= 64 || basename(path) === PJSIP_FILE_NAME) return;
  seen.add(path);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    return;
  }
  const find = (name: string, templates: boolean): Category | undefined =>
    categories.find((c) => c.name.toLowerCase() === name.toLowerCase() && (templates || !c.template));
  let section: Category | undefined;
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i += 1) {
    const raw = lines[i]!;
    const include = /^\s*#\s*(?:try)?include\s+"?([^"\s;]+)"?/.exec(raw);
    if (include !== null) {
      section = undefined;
      await readCategories(configDir, include[1]!, seen, categories);
      continue;
    }
    const line = raw.replace(/(?<!\\);.*$/, '').trim();
    if (line === '') continue;
    const header = /^\[([^\]]+)\](?:\(([^)]*)\))?/.exec(line);
    if (header !== null) {
      section = category(header[1]!, header[2], file, i + 1, categories, find);
      continue;
    }
    const eq = line.indexOf('=');
    if (section === undefined || eq < 0) continue;
    section.vars.push([line.slice(0, eq).replace(/>$/, '').trim().toLowerCase(), line.slice(eq + 1).replace(/^>/, '').trim()]);
  }
}

/** The category a header starts (a new one, or the one `+` adds to); undefined where Asterisk fails to parse it. */
function category(
  name: string,
  options: string | undefined,
  file: string,
  line: number,
  categories: Category[],
  find: (name: string, templates: boolean) => Category | undefined,
): Category | undefined {
  const fresh: Category = { name, file, line, template: false, vars: [] };
  let current = fresh;
  for (const option of options === undefined ? [] : options.split(',')) {
    if (option === '!') {
      current.template = true;
    } else if (option.startsWith('+')) {
      const existing = find(name, false);
      if (existing === undefined) return undefined;
      existing.template ||= current.template;
      existing.vars.push(...current.vars);
      current = existing;
    } else {
      const base = find(option, true);
      if (base === undefined) return undefined;
      current.vars.push(...base.vars.map(([k, v]): [string, string] => [k, v]));
    }
  }
  if (current === fresh) categories.push(fresh);
  return current;
}

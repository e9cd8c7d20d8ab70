/**
 * `extensions_fedpbx.conf`: the dialplan fedpbx owns at one site. It is deliberately thin - every call is handed
 * to the site's agent over FastAGI, which routes it from its in-memory snapshot. What stays in the dialplan is
 * what must work when the agent does not take a call: the site's own extensions, the other sites' ranges over
 * their links (prefixes included, the same dial strings and endpoints the agent uses), and emergency numbers
 * through the site's own emergency trunks (ARCHITECTURE.md, "The world breaks"). Only health-based choices
 * (link down -> PSTN, trunk order by health) and call flows need the agent.
 *
 * The agent contract (also written into the file's header):
 * - Entry contexts `fedpbx-internal` (phones), `fedpbx-from-sites` (other sites), `fedpbx-from-pstn` (trunks)
 *   run `AGI(agi://<host>:<port>/<entry>)` with entry `internal`, `from-sites`, `from-pstn`.
 * - The agent sets the channel variable `FEDPBX_HANDLED=1` (in its first command, an `MSet`) as soon as it takes
 *   responsibility for the call, and clears it again when it fails before the caller heard anything. The dialplan
 *   clears it before the AGI; after the AGI the call is the agent's
 *   only when it is `1`, or when AGISTATUS is HANGUP (the caller is gone). Everything else runs the fallback.
 *   AGISTATUS cannot tell: a FastAGI server that reads the environment and closes without a command, or holds the
 *   connection and drops it, gives AGISTATUS=SUCCESS on Asterisk 22 (res_agi.c ends the script normally on EOF);
 *   only a `failure` line, a refused connection or 2 s without accept give FAILURE; and a session that went on
 *   normally can end in FAILURE (a missing-file STREAM FILE, a failed GOSUB - asterisk-protocols.md, "Observed").
 * - Asterisk has no read timeout on a FastAGI connection: a stopped agent holds the call in AGI() (Set(TIMEOUT(...))
 *   does not interrupt it). That case is the agent's supervisor's to end (it kills a silent agent within ~1.5 s,
 *   whose closed sockets then send the calls here) - see README "How restarts and failures work".
 * - Recording (`fedpbx-record`, when the site records inter-site or external calls): `Gosub(fedpbx-record,s,1(<callee>))`
 *   on the caller's channel before Dial, or as a pre-dial handler `Dial(...,b(fedpbx-record^s^1(<callee>)))`.
 *   It MixMonitors to `${FEDPBX_REC_DIR}/<name>` (FEDPBX_REC_DIR defaults to the rendered directory unless a
 *   global or channel variable sets it) and leaves the name in `FEDPBX_REC_FILE`; `recordingFileName` gives the
 *   agent the same name.
 */
import { ExtensionPatternText, type InboundRoute, type SiteConfig } from '@fedpbx/contracts';
import { NumberingPlan } from '../numbering/numbering-plan.js';
import { parsePattern, rangeToPatterns } from '../patterns/index.js';
import { includeLine } from './include-line.js';
import { checkLineLength } from './ini-writer.js';
import { collected, LineBuffer, type TextSink } from './line-sink.js';
import { AGI_ENTRIES, EXTENSIONS_FILE_NAME, FEDPBX_CALL_HEADER, FEDPBX_CONTEXTS, phoneEndpointName, remotePresenceDevice, siteEndpointName, trunkEndpointName, voicemailMailbox } from './names.js';
import { DEFAULT_RECORDING_DIR, FEDPBX_REC_DIR_VARIABLE, FEDPBX_REC_FILE_VARIABLE, recordingFileNameExpression } from './recording.js';
import { RenderError } from './render-errors.js';
import {
  safeAbsolutePath,
  safeAsteriskName,
  safeDigits,
  safeHostNoV6,
  safeInt,
  safePort,
  safeSipUser,
  safeSiteId,
  type ValueSite,
} from './safe-values.js';

/** Set to `1` by the agent when it has taken the call; unless it is `1` (or the caller is gone) the fallback runs. */
export const FEDPBX_HANDLED_VARIABLE = 'FEDPBX_HANDLED';

export interface ExtensionsRenderOptions {
  /** Where the agent's FastAGI server listens (IPv4 or host name; usually 127.0.0.1). */
  agiHost: string;
  /** Its port (FastAGI default 4573). */
  agiPort: number;
  /** Default of `${FEDPBX_REC_DIR}` when no global sets it. Default `/var/spool/asterisk/monitor/fedpbx`. */
  recordingDir?: string;
  /** Ring time of the fallback's Dial for numbers of the site's ranges that are not a known extension. Default 20 s. */
  fallbackRingTimeoutSec?: number;
  /** The path the admin's `#include` names (relative to Asterisk's config dir, or absolute); default the file name. */
  include?: string;
}

interface Step {
  readonly app: string;
  readonly data: string;
  readonly label?: string;
}

/** Catch-alls of the entry contexts: one dial character, two or more (`.` needs at least one more), and `s`. */
const CATCH_ALL = ['_[*#+0-9]', '_[*#+0-9].', 's'] as const;

const DIALLED_DIGITS = '${FILTER(0-9,${EXTEN})}';

export function renderExtensions(config: SiteConfig, opts: ExtensionsRenderOptions): string {
  return collected((sink) => renderExtensionsTo(config, sink, opts));
}

/** {@link renderExtensions}, the text handed to `sink` as it is rendered (TextSink; after a RenderError, discard it). */
export function renderExtensionsTo(config: SiteConfig, sink: TextSink, opts: ExtensionsRenderOptions): void {
  const site = config.site;
  const siteId = safeSiteId(site.id, { object: 'site', field: 'id' });
  const agiHost = safeHostNoV6(opts.agiHost, { object: 'options', field: 'agiHost' });
  const agiPort = safePort(opts.agiPort, { object: 'options', field: 'agiPort' });
  const recordingDir = safeAbsolutePath(opts.recordingDir ?? DEFAULT_RECORDING_DIR, { object: 'options', field: 'recordingDir' });
  const ringTimeout = safeInt(opts.fallbackRingTimeoutSec ?? 20, 1, 600, { object: 'options', field: 'fallbackRingTimeoutSec' });
  const recordInterSite = site.recording.interSite;
  const recordExternal = site.recording.external;
  const w = new DialplanWriter(sink);
  const agi = (entry: string): Step => ({ app: 'AGI', data: `agi://${agiHost}:${agiPort}/${entry}` });

  w.comment(`${EXTENSIONS_FILE_NAME} - generated by fedpbx for site ${siteId}. DO NOT EDIT.`)
    .comment('fedpbx rewrites this file whenever the federation configuration changes; local edits are lost.')
    .comment(`Include it from extensions.conf with this line: ${includeLine(EXTENSIONS_FILE_NAME, opts.include)}`)
    .comment(`Every call goes to the fedpbx agent over FastAGI. The agent sets ${FEDPBX_HANDLED_VARIABLE}=1 when it takes`)
    .comment(`a call. Unless ${FEDPBX_HANDLED_VARIABLE} is 1 after AGI() (or AGISTATUS is HANGUP: the caller is gone), whatever`)
    .comment(`AGISTATUS says (SUCCESS too: an agent that closes without a command), the call falls back to`)
    .comment(`${FEDPBX_CONTEXTS.fallbackSites}: this site's extensions, other sites' ranges over their links, no call flows.`);

  // Emergency numbers: literal extensions in fedpbx-internal, so they win over the catch-alls; without the
  // agent they still go out through the site's own emergency-capable trunks.
  const emergencyTrunks = config.trunks
    .filter((t) => t.siteId === siteId && t.emergency)
    .map((t) => trunkEndpointName(safeAsteriskName(t.name, { object: `trunk ${t.id}`, field: 'name' })))
    .sort();
  const emergencyNumbers = [...new Set(site.emergencyNumbers)].map((n, i) => safeDialString(n, { object: 'site', field: `emergencyNumbers[${i}]` }));

  w.context(FEDPBX_CONTEXTS.internal, 'Calls from this site\'s phones.');
  for (const number of emergencyNumbers) {
    const dials: Step[] = emergencyTrunks.map((trunk) => ({ app: 'Dial', data: `PJSIP/${number}@${trunk}` }));
    w.extension(number, emergencySteps(agi(AGI_ENTRIES.internal), dials));
  }
  for (const exten of CATCH_ALL) {
    w.extension(exten, entrySteps(agi(AGI_ENTRIES.internal), exten === 's' ? [hangup()] : [...startedHere(siteId), gotoFallback(FEDPBX_CONTEXTS.fallbackSites)]));
  }

  w.context(FEDPBX_CONTEXTS.fromSites, 'Calls from other sites (endpoints site-*).');
  // Only the hub passes calls from one site on to another (as the agent does); any other site's fallback keeps
  // them to its own extensions, so that two fallbacks can never bounce a call between them.
  const fromSitesFallback = config.federation.hubSiteId === siteId ? FEDPBX_CONTEXTS.fallbackSites : FEDPBX_CONTEXTS.fallback;
  for (const exten of CATCH_ALL) {
    const fallback =
      exten === 's'
        ? [hangup()]
        : [...fromAnotherSite(siteId), ...(recordInterSite ? [recordStep(DIALLED_DIGITS)] : []), gotoFallback(fromSitesFallback)];
    w.extension(exten, entrySteps(agi(AGI_ENTRIES.fromSites), fallback));
  }

  w.context(FEDPBX_CONTEXTS.fromPstn, 'Calls from this site\'s PSTN trunks (endpoints trunk-*).');
  for (const exten of CATCH_ALL) {
    const fallback =
      exten === 's'
        ? [hangup()]
        : [...startedHere(siteId), ...(recordExternal ? [recordStep(DIALLED_DIGITS)] : []), gotoFallback(FEDPBX_CONTEXTS.fallbackPstn, '${FILTER(0-9+,${EXTEN})}')];
    w.extension(exten, entrySteps(agi(AGI_ENTRIES.fromPstn), fallback));
  }
  // A registering trunk's calls may arrive on its contact_user (the trunk username) instead of the DID.
  const contactUsers = new Set<string>();
  for (const trunk of config.trunks.filter((t) => t.siteId === siteId && t.register && t.username !== undefined)) {
    const user = safeSipUser(trunk.username, { object: `trunk ${trunk.id}`, field: 'username' });
    if (/^[*#+0-9]+$/.test(user) || user.startsWith('_') || contactUsers.has(user)) continue;
    contactUsers.add(user);
    w.extension(user, entrySteps(agi(AGI_ENTRIES.fromPstn), [hangup()]));
  }

  renderHints(w, config);
  renderFallback(w, config, ringTimeout);
  renderFallbackSites(w, config, recordInterSite);
  renderFallbackPstn(w, config);
  if (recordInterSite || recordExternal) renderRecord(w, site.timezone, recordingDir);
  renderPreDial(w);
  w.end();
}

/**
 * `fedpbx-hints`, the phones' subscribe_context: one `exten => <n>,hint,<device>` per extension, the hint priority
 * (pbx.c PRIORITY_HINT, -1) being the extension's only one. res_pjsip_exten_state.c accepts a SUBSCRIBE for <n> when
 * `ast_exists_extension(..., context, n, PRIORITY_HINT)` holds there.
 * - Local: every extension of the site on its phone's endpoint, `PJSIP/<endpoint>` (chan_pjsip's device state).
 * - Remote: the snapshot's remotePresence, each in the numbering a local phone dials (prefix included, the agent's
 *   NumberingPlan.dialStringFrom), on `Custom:fedpbx-<site>-<number>`, which the agent sets from the owner's events.
 *   A number the phone could not dial (no flat range, no prefix) or one that means something local gets no hint.
 * Sorted by number, local first: a remote number equal to a local one cannot happen (the local one would win the
 * dialled number, so the remote is dialled with its prefix or not at all).
 */
function renderHints(w: DialplanWriter, config: SiteConfig): void {
  const siteId = config.site.id;
  w.context(FEDPBX_CONTEXTS.hints, 'Busy lamps: the phones subscribe here (subscribe_context); hints only, no calls.');
  const written = new Set<string>();
  const local = config.extensions.filter((e) => e.siteId === siteId).sort((a, b) => (a.number < b.number ? -1 : a.number > b.number ? 1 : 0));
  for (const ext of local) {
    const object = `extension ${ext.id}`;
    const number = safeDigits(ext.number, { object, field: 'number' });
    if (written.has(number)) continue;
    written.add(number);
    w.hint(number, `PJSIP/${safeAsteriskName(phoneEndpointName(ext), { object, field: 'endpoint' })}`);
  }
  const remote = config.remotePresence ?? [];
  if (remote.length === 0) return;
  const plan = new NumberingPlan(config.federation.sites, config.federation.numberRanges);
  const lines: { dial: string; device: string }[] = [];
  for (const entry of remote) {
    const target = safeSiteId(entry.siteId, { object: 'remotePresence', field: 'siteId' });
    if (target === siteId) continue;
    for (const raw of entry.numbers) {
      const number = safeDigits(raw, { object: `remotePresence ${target}`, field: 'numbers' });
      const dial = plan.dialStringFrom(siteId, target, number);
      if (dial === undefined || written.has(dial)) continue;
      written.add(dial);
      lines.push({ dial, device: remotePresenceDevice(target, number) });
    }
  }
  lines.sort((a, b) => (a.dial < b.dial ? -1 : a.dial > b.dial ? 1 : 0));
  for (const l of lines) w.hint(l.dial, l.device);
}

/**
 * The pre-dial handler of calls to other sites: app_dial runs `b(context^exten^priority(args))` on each outgoing
 * channel before dialling it, so the header goes on that INVITE only (PJSIP_HEADER(add,...) on the outbound
 * channel, res_pjsip_header_funcs). ARG1 is the federation call id the agent built from whitelisted parts.
 */
function renderPreDial(w: DialplanWriter): void {
  w.context(FEDPBX_CONTEXTS.preDial, `Dial(PJSIP/<n>@site-<id>,...,b(${FEDPBX_CONTEXTS.preDial}^s^1(<call id>))): tells the other site which call this is.`);
  w.extension('s', [
    { app: 'Set', data: `PJSIP_HEADER(add,${FEDPBX_CALL_HEADER})=\${ARG1}` },
    { app: 'Return', data: '' },
  ]);
}

/**
 * The entry sequence: clear the flag, ask the agent, stop if it took the call (or the caller is gone), otherwise
 * run `fallback`. AGISTATUS=SUCCESS is not "taken": an agent with no snapshot, an unknown entry, an exception or a
 * kill before its first command all end the session that way (see the file comment).
 */
function entrySteps(agi: Step, fallback: readonly Step[]): Step[] {
  return [
    { app: 'Set', data: `${FEDPBX_HANDLED_VARIABLE}=` },
    agi,
    { app: 'GotoIf', data: `$["\${${FEDPBX_HANDLED_VARIABLE}}" = "1"]?handled` },
    { app: 'GotoIf', data: '$["${AGISTATUS}" = "HANGUP"]?handled' },
    { app: 'Log', data: 'WARNING,fedpbx agent did not take the call - AGISTATUS=${AGISTATUS} - fallback dialplan' },
    ...fallback,
    { app: 'Hangup', data: '', label: 'handled' },
  ];
}

/**
 * An emergency number's entry: {@link entrySteps}, and the site's emergency trunks are dialled too when the agent took
 * the call but its last Dial failed on the route (DIALSTATUS CHANUNAVAIL or CONGESTION) with the caller still up. An
 * agent gone between two trunks (killed by its supervisor or watchdog, a crash) leaves the guard set: without this
 * the call would be hung up although a trunk it had not reached could carry it. An agent that tried every trunk ends
 * the same way: one more round through them, which an emergency call is owed rather than a hang-up. After an answered
 * Dial (the caller spoke to the emergency centre) or with the caller gone, nothing more is dialled.
 */
function emergencySteps(agi: Step, dials: readonly Step[]): Step[] {
  return [
    { app: 'Set', data: `${FEDPBX_HANDLED_VARIABLE}=` },
    agi,
    { app: 'GotoIf', data: '$["${AGISTATUS}" = "HANGUP"]?handled' },
    { app: 'GotoIf', data: '$["${DIALSTATUS}" = "CHANUNAVAIL"]?fallback' },
    { app: 'GotoIf', data: '$["${DIALSTATUS}" = "CONGESTION"]?fallback' },
    { app: 'GotoIf', data: `$["\${${FEDPBX_HANDLED_VARIABLE}}" = "1"]?handled` },
    {
      app: 'Log',
      data: `WARNING,fedpbx emergency call to the fallback dialplan - AGISTATUS=\${AGISTATUS} DIALSTATUS=\${DIALSTATUS} ${FEDPBX_HANDLED_VARIABLE}=\${${FEDPBX_HANDLED_VARIABLE}}`,
      label: 'fallback',
    },
    ...dials,
    hangup(),
    { app: 'Hangup', data: '', label: 'handled' },
  ];
}

/**
 * The federation call id of a fallback call that started here, as the agent gives it (`<site>/<uniqueid>`: phones
 * and trunks enter these contexts directly, so the uniqueid is the call's linkedid), on the channel for the
 * pre-dial handler and on the CDR with the origin, before any Dial (main/cdr.c copies CDR variables to later records).
 */
function startedHere(siteId: string): Step[] {
  const site = safeSiteId(siteId, { object: 'site', field: 'id' });
  return [
    { app: 'Set', data: `${FEDPBX_CALL_VARIABLE}=${site}/\${UNIQUEID}` },
    { app: 'Set', data: `CDR(${FEDPBX_CALL_VARIABLE})=\${${FEDPBX_CALL_VARIABLE}}` },
    { app: 'Set', data: `CDR(FEDPBX_ORIGIN)=${site}` },
  ];
}

/**
 * The call id of a fallback call from another site: the one its INVITE carries (the calling site's pre-dial
 * handler), else this site's own. The dialplan cannot check it as the agent does (a site it knows), so only the
 * characters of a call id pass (FILTER: `--/` is the range `-` to `/`, i.e. `-./`; `0-:` the digits and `:`) -
 * nothing that could split the Dial data it goes into.
 */
function fromAnotherSite(siteId: string): Step[] {
  const site = safeSiteId(siteId, { object: 'site', field: 'id' });
  return [
    { app: 'Set', data: `${FEDPBX_CALL_VARIABLE}=\${FILTER(${CALL_ID_CHARACTERS},\${PJSIP_HEADER(read,${FEDPBX_CALL_HEADER})})}` },
    { app: 'ExecIf', data: `$["\${${FEDPBX_CALL_VARIABLE}}" = ""]?Set(${FEDPBX_CALL_VARIABLE}=${site}/\${UNIQUEID})` },
    { app: 'Set', data: `CDR(${FEDPBX_CALL_VARIABLE})=\${${FEDPBX_CALL_VARIABLE}}` },
  ];
}

/** The channel (and CDR) variable holding the federation call id, as the agent names it. */
const FEDPBX_CALL_VARIABLE = 'FEDPBX_CALL';
/** FILTER's set of the characters of a call id (FederationCallId): letters, digits, `-` `.` `/` `:` `_`. */
const CALL_ID_CHARACTERS = '--/0-:A-Z_a-z';

/** Only digits of the dialled number reach the fallback (the catch-all `.` accepts anything, `,` and `&` included). */
function gotoFallback(context: string, exten = DIALLED_DIGITS): Step {
  return { app: 'Goto', data: `${context},${exten},1` };
}

function hangup(): Step {
  return { app: 'Hangup', data: '' };
}

function recordStep(calleeExpression: string): Step {
  return { app: 'Gosub', data: `${FEDPBX_CONTEXTS.record},s,1(${calleeExpression})` };
}

function renderFallback(w: DialplanWriter, config: SiteConfig, ringTimeout: number): void {
  const siteId = config.site.id;
  w.context(FEDPBX_CONTEXTS.fallback, 'Only when the agent did not take the call: this site\'s own extensions, dialled directly.');
  const literals = new Set<string>();
  const extensions = config.extensions.filter((e) => e.siteId === siteId).sort((a, b) => (a.number < b.number ? -1 : a.number > b.number ? 1 : 0));
  for (const ext of extensions) {
    const object = `extension ${ext.id}`;
    const number = safeDigits(ext.number, { object, field: 'number' });
    if (literals.has(number)) continue;
    literals.add(number);
    const endpoint = safeAsteriskName(phoneEndpointName(ext), { object, field: 'endpoint' });
    const timeout = safeInt(ext.ringTimeoutSec, 1, 600, { object, field: 'ringTimeoutSec' });
    w.extension(number, [
      { app: 'Dial', data: `PJSIP/${endpoint},${timeout},tT` },
      hangup(),
    ]);
  }
  const patterns = new Set<string>();
  const ranges = config.federation.numberRanges.filter((r) => r.siteId === siteId);
  for (const range of ranges) {
    const object = `number range ${range.id}`;
    const from = safeDigits(range.from, { object, field: 'from' });
    const to = safeDigits(range.to, { object, field: 'to' });
    for (const pattern of rangeToPatterns(from, to)) {
      if (patterns.has(pattern.canonical)) continue;
      patterns.add(pattern.canonical);
      // The range's patterns hold digits and digit classes only, so ${EXTEN} is digits here.
      w.extension(pattern.text, [{ app: 'Dial', data: `PJSIP/\${EXTEN},${ringTimeout},tT` }, hangup()]);
    }
  }
  w.extension('i', [{ app: 'Hangup', data: '1' }]);
}

/** Equal-length digit strings `from` <= `to`: a block of numbers (string order is numeric order at equal length). */
interface Span {
  readonly from: string;
  readonly to: string;
}

/**
 * `fedpbx-fallback-sites`: `include => fedpbx-fallback` (own extensions), then every number the numbering plan
 * gives to another site, dialled over the link the agent would use (the site itself, or the hub) with the same dial
 * string: flat ranges as they are, prefix + number with the prefix stripped towards the site itself (the receiving
 * site sees the number alone), prefix + number as is through the hub (a prefix reaches its site from anywhere).
 * The number sets follow `NumberingPlan.classify` exactly: own ranges first, then prefixes longest first (a prefix
 * claims every number of its site's lengths, assigned or not), then the flat plan - each block minus what an
 * earlier rule took, so Asterisk's pattern order never has to choose. What the agent would do on a dead link
 * (the PSTN to the number's DID) needs link health, which a static dialplan does not have.
 */
function renderFallbackSites(w: DialplanWriter, config: SiteConfig, recordInterSite: boolean): void {
  const siteId = config.site.id;
  w.context(FEDPBX_CONTEXTS.fallbackSites, 'Only when the agent did not take the call: this site\'s extensions and the other sites\' ranges over their links.');
  w.include(FEDPBX_CONTEXTS.fallback);
  const ranges = new Map<string, Span[]>();
  for (const r of config.federation.numberRanges) {
    const object = `number range ${r.id}`;
    const span = { from: safeDigits(r.from, { object, field: 'from' }), to: safeDigits(r.to, { object, field: 'to' }) };
    if (span.from.length !== span.to.length || span.from > span.to) continue; // validation never lets one through
    ranges.set(r.siteId, [...(ranges.get(r.siteId) ?? []), span]);
  }
  const linked = new Set(config.links.flatMap((l) => (l.a === siteId ? [l.b] : l.b === siteId ? [l.a] : [])));
  const hub = config.federation.hubSiteId;
  const viaOf = (target: string): string | undefined =>
    linked.has(target) ? target : hub !== undefined && hub !== siteId && hub !== target && linked.has(hub) ? hub : undefined;
  const seen = new Set<string>();
  const dialSteps = (target: string, via: string, onWire: string): Step[] => {
    const entry = config.federation.sites.find((s) => s.id === target);
    const timeout = safeInt(entry?.ringTimeoutSec ?? 30, 1, 600, { object: `site ${target}`, field: 'ringTimeoutSec' });
    const endpoint = siteEndpointName(safeSiteId(via, { object: `site ${via}`, field: 'id' }));
    // The call id (set at the entry, above) goes on the INVITE as the agent sends it: the receiving site links the call.
    const preDial = `b(${FEDPBX_CONTEXTS.preDial}^s^1(\${${FEDPBX_CALL_VARIABLE}}))`;
    return [...(recordInterSite ? [recordStep('${EXTEN}')] : []), { app: 'Dial', data: `PJSIP/${onWire}@${endpoint},${timeout},tT${preDial}` }, hangup()];
  };
  const emit = (spans: readonly Span[], steps: Step[]): void => {
    for (const span of spans) {
      for (const pattern of rangeToPatterns(span.from, span.to)) {
        if (seen.has(pattern.canonical)) continue;
        seen.add(pattern.canonical);
        w.extension(pattern.text, steps);
      }
    }
  };

  const claimed: Span[] = [...(ranges.get(siteId) ?? [])];
  const prefixed = config.federation.sites
    .filter((s): s is typeof s & { prefix: string } => s.prefix !== undefined)
    .sort((a, b) => b.prefix.length - a.prefix.length || (a.prefix < b.prefix ? -1 : 1));
  for (const s of prefixed) {
    const prefix = safeDigits(s.prefix, { object: `site ${s.id}`, field: 'prefix' });
    const own = ranges.get(s.id) ?? [];
    const spans = own.flatMap((r) => subtractSpans({ from: prefix + r.from, to: prefix + r.to }, claimed));
    if (s.id === siteId) {
      // This site's own prefix + one of its numbers: the number, here.
      emit(spans, [gotoFallback(FEDPBX_CONTEXTS.fallback, `\${EXTEN:${prefix.length}}`)]);
    } else {
      const via = viaOf(s.id);
      if (via !== undefined) emit(spans, dialSteps(s.id, via, via === s.id ? `\${EXTEN:${prefix.length}}` : '${EXTEN}'));
    }
    for (const length of new Set(own.map((r) => r.from.length))) claimed.push({ from: prefix + '0'.repeat(length), to: prefix + '9'.repeat(length) });
  }
  for (const s of config.federation.sites) {
    if (s.id === siteId || s.prefixRequired) continue;
    const via = viaOf(s.id);
    if (via === undefined) continue;
    const hubRanges = via === s.id ? [] : (ranges.get(via) ?? []);
    for (const r of ranges.get(s.id) ?? []) {
      for (const span of subtractSpans(r, claimed)) {
        // Through the hub the number must mean this site at the hub too; where the hub's own range holds it, the
        // site's prefix says it (the agent's NumberingPlan.dialStringFrom).
        const shadowedAtHub = hubRanges.some((h) => h.from.length === span.from.length && h.from <= span.to && span.from <= h.to);
        const onWire = shadowedAtHub && s.prefix !== undefined ? `${safeDigits(s.prefix, { object: `site ${s.id}`, field: 'prefix' })}\${EXTEN}` : '${EXTEN}';
        emit([span], dialSteps(s.id, via, onWire));
      }
    }
  }
  w.extension('i', [{ app: 'Hangup', data: '1' }]);
}

/** `span` minus every claimed span of the same length. */
function subtractSpans(span: Span, claimed: readonly Span[]): Span[] {
  let pieces: Span[] = [span];
  for (const c of claimed) {
    if (c.from.length !== span.from.length) continue;
    const next: Span[] = [];
    for (const p of pieces) {
      if (c.to < p.from || c.from > p.to) {
        next.push(p);
        continue;
      }
      if (c.from > p.from) next.push({ from: p.from, to: stepDigits(c.from, -1n) });
      if (c.to < p.to) next.push({ from: stepDigits(c.to, 1n), to: p.to });
    }
    pieces = next;
  }
  return pieces;
}

function stepDigits(digits: string, by: bigint): string {
  return (BigInt(digits) + by).toString().padStart(digits.length, '0');
}

function renderFallbackPstn(w: DialplanWriter, config: SiteConfig): void {
  const siteId = config.site.id;
  w.context(FEDPBX_CONTEXTS.fallbackPstn, 'Only when the agent did not take the call: inbound routes to an extension or by DID suffix.');
  const seen = new Set<string>();
  const routes = config.inboundRoutes.filter((r) => r.siteId === siteId);
  for (const route of routes) {
    const object = `inbound route ${route.id}`;
    const did = safeDid(route.did, { object, field: 'did' });
    const canonical = parsePattern(did).canonical;
    if (seen.has(canonical)) continue; // the first route for a DID wins, as in the agent
    seen.add(canonical);
    w.extension(did, [...fallbackDestination(route, object), hangup()]);
  }
  w.extension('i', [{ app: 'Hangup', data: '1' }]);
}

function fallbackDestination(route: InboundRoute, object: string): Step[] {
  const destination = route.destination;
  switch (destination.type) {
    // The number may be at another site (the agent routes it there too): the fallback with the other sites.
    case 'extension':
      return [gotoFallback(FEDPBX_CONTEXTS.fallbackSites, safeDigits(destination.number, { object, field: 'destination.number' }))];
    case 'did-suffix': {
      const digits = safeInt(destination.digits, 1, 15, { object, field: 'destination.digits' });
      return [gotoFallback(FEDPBX_CONTEXTS.fallbackSites, `\${FILTER(0-9,\${EXTEN}):-${digits}}`)];
    }
    case 'voicemail':
      // The same mailbox context as the agent's VoiceMail (voicemail_fedpbx.conf's `[fedpbx]`).
      return [{ app: 'VoiceMail', data: `${voicemailMailbox(safeDigits(destination.mailbox, { object, field: 'destination.mailbox' }))},u` }];
    case 'flow':
    case 'hangup':
      // Call flows need the agent; without it the call is refused rather than guessed at.
      return [];
  }
}

function renderRecord(w: DialplanWriter, timeZone: string, recordingDir: string): void {
  w.context(
    FEDPBX_CONTEXTS.record,
    `Gosub(${FEDPBX_CONTEXTS.record},s,1(<callee>)) before Dial, or Dial(...,b(${FEDPBX_CONTEXTS.record}^s^1(<callee>))).`,
  );
  const name = recordingFileNameExpression(timeZone, '${ARG1}');
  w.extension('s', [
    { app: 'ExecIf', data: `$["\${${FEDPBX_REC_DIR_VARIABLE}}" = ""]?Set(${FEDPBX_REC_DIR_VARIABLE}=${recordingDir})` },
    { app: 'Set', data: `${FEDPBX_REC_FILE_VARIABLE}=${name}` },
    { app: 'MixMonitor', data: `\${${FEDPBX_REC_DIR_VARIABLE}}/\${${FEDPBX_REC_FILE_VARIABLE}},b` },
    { app: 'Return', data: '' },
  ]);
}

function safeDialString(value: unknown, where: ValueSite): string {
  if (typeof value !== 'string' || !/^\+?[0-9*#]{1,32}$/.test(value)) {
    throw new RenderError('UNSAFE_VALUE', where.object, where.field, 'a dial string is up to 32 of 0-9 * # with an optional leading +');
  }
  return value;
}

function safeDid(value: unknown, where: ValueSite): string {
  if (typeof value !== 'string' || !ExtensionPatternText.safeParse(value).success || /[,;()&\s]/.test(value)) {
    throw new RenderError('UNSAFE_VALUE', where.object, where.field, 'an Asterisk pattern (_...) or a literal number');
  }
  return value;
}

/** extensions.conf text: `[context]`, `exten => name,1,App(data)`, ` same => n,App(data)`; every line checked. */
class DialplanWriter {
  private readonly lines: LineBuffer;
  private readonly contexts = new Set<string>();
  private current: { name: string; extensions: Set<string> } | undefined;

  constructor(sink: TextSink) {
    this.lines = new LineBuffer(sink);
  }

  comment(text: string): this {
    // eslint-disable-next-line no-control-regex
    if (/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/.test(text)) {
      throw new RenderError('UNSAFE_VALUE', 'comment', 'text', 'a comment is one line without control characters');
    }
    this.lines.push(`; ${text}`);
    return this;
  }

  /** `include => name`: the included context's extensions are searched after this one's (pbx.c). */
  include(name: string): this {
    if (this.current === undefined) throw new RenderError('MISSING_VALUE', `include ${name}`, 'context', 'no context open');
    if (!this.contexts.has(name)) throw new RenderError('MISSING_VALUE', `include ${name}`, 'name', 'include a context written before');
    this.lines.push(`include => ${name}`);
    return this;
  }

  context(name: string, comment: string): this {
    if (!/^[A-Za-z0-9][A-Za-z0-9_-]{0,79}$/.test(name)) throw new RenderError('UNSAFE_VALUE', `context ${name}`, 'name', 'not a context name');
    if (this.contexts.has(name)) throw new RenderError('DUPLICATE_OBJECT', `context ${name}`, 'name', 'context written twice');
    this.contexts.add(name);
    this.current = { name, extensions: new Set() };
    this.lines.push('');
    this.comment(comment);
    this.lines.push(`[${name}]`);
    return this;
  }

  extension(name: string, steps: readonly Step[]): this {
    const context = this.current;
    if (context === undefined) throw new RenderError('MISSING_VALUE', `extension ${name}`, 'context', 'no context open');
    const object = `extension ${name}@${context.name}`;
    // A literal may hold `_` after its first character: only a leading `_` makes a pattern (pbx.c).
    if (!/^(?:_[0-9A-Za-z*#+\-[\].!]{1,79}|[0-9A-Za-z*#+][0-9A-Za-z*#+._-]{0,79})$/.test(name)) {
      throw new RenderError('UNSAFE_VALUE', object, 'name', 'not an extension name or pattern');
    }
    const key = name.startsWith('_') ? parsePattern(name).canonical : name.replaceAll('-', '');
    if (context.extensions.has(key)) throw new RenderError('DUPLICATE_OBJECT', object, 'name', 'extension written twice in this context');
    context.extensions.add(key);
    steps.forEach((step, i) => {
      if (!/^[A-Za-z][A-Za-z0-9]{0,39}$/.test(step.app)) throw new RenderError('UNSAFE_VALUE', object, `step ${i + 1} app`, 'not an application name');
      // eslint-disable-next-line no-control-regex
      if (/[\u0000-\u001f\u007f-\u009f\u2028\u2029;\\]/.test(step.data)) {
        throw new RenderError('UNSAFE_VALUE', object, `step ${i + 1} data`, 'control characters, ; and \\ are not allowed in application data');
      }
      if (step.label !== undefined && !/^[a-z][a-z0-9-]{0,30}$/.test(step.label)) {
        throw new RenderError('UNSAFE_VALUE', object, `step ${i + 1} label`, 'not a label');
      }
      const priority = `${i === 0 ? '1' : 'n'}${step.label === undefined ? '' : `(${step.label})`}`;
      const head = i === 0 ? `exten => ${name},${priority}` : ` same => ${priority}`;
      this.lines.push(checkLineLength(`${head},${step.app}(${step.data})`, object, `step ${i + 1} data`));
    });
    return this;
  }

  /** `exten => name,hint,device`: a hint-only extension (its device a `PJSIP/<endpoint>` or a fedpbx custom state). */
  hint(name: string, device: string): this {
    const context = this.current;
    if (context === undefined) throw new RenderError('MISSING_VALUE', `hint ${name}`, 'context', 'no context open');
    const object = `hint ${name}@${context.name}`;
    if (!/^[0-9]{1,32}$/.test(name)) throw new RenderError('UNSAFE_VALUE', object, 'name', 'a hint is for a number');
    if (!/^(?:PJSIP\/[A-Za-z0-9_.+-]{1,80}|Custom:fedpbx-[a-z][a-z0-9-]{0,30}-[0-9]{1,15})$/.test(device)) {
      throw new RenderError('UNSAFE_VALUE', object, 'device', 'not a PJSIP endpoint or fedpbx custom device');
    }
    if (context.extensions.has(name)) throw new RenderError('DUPLICATE_OBJECT', object, 'name', 'extension written twice in this context');
    context.extensions.add(name);
    this.lines.push(`exten => ${name},hint,${device}`);
    return this;
  }

  end(): void {
    this.lines.end();
  }
}

import { AgiAppDataError, AgiCommandError } from '../errors.js';
import { LinePieces } from '../line-pieces.js';

/**
 * FastAGI command serialisation (server -> Asterisk).
 *
 * res_agi.c reads one command per LF with fgets() into char[8192] and splits it with parse_args():
 * spaces/tabs separate arguments, `"` toggles quoting, `\` escapes the next character, at most 128
 * arguments (MAX_ARGS). A longer line is cut and its rest runs as a second command (see fixture
 * agi-05-long-command.json), and a CR or LF inside an argument ends or corrupts the command. So every
 * argument is quoted and escaped, and anything that cannot be quoted safely is refused.
 */

/** Lines must stay well under res_agi.c's 8192-byte fgets buffer (8191 bytes + LF already misbehaves). */
export const AGI_MAX_COMMAND_BYTES = 8000;
/**
 * res_agi.c MAX_ARGS. parse_args() starts at most MAX_ARGS - 1 words from unquoted text, but a quoted
 * word skips that check and the argv[MAX_ARGS] array would overflow: we send at most MAX_ARGS - 1 words,
 * verb words included.
 */
export const AGI_MAX_ARGS = 128;

const VERB = /^[A-Z]+(?: [A-Z]+)*$/;
const FORBIDDEN_IN_ARG = /[\r\n\0]/;
const NEEDS_ESCAPE = /[\\"]/;
/** Any character that needs a closer look: CR, LF, NUL, `\`, `"` or any UTF-16 surrogate. */
const SPECIAL_IN_ARG = /[\r\n\0\\"\uD800-\uDFFF]/;
const ESCAPED_CHARS = /[\\"]/g;
/** A lone UTF-16 surrogate has no UTF-8 encoding: it would silently become U+FFFD on the wire. */
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;

/**
 * Quotes one argument for parse_args(): `"` + value with `\` -> `\\` and `"` -> `\"` + `"`.
 * Refuses CR, LF and NUL, which no quoting can carry (LF ends the command, NUL ends the C string,
 * CR would become part of the value - fixture agi-05-crlf-line-endings.json).
 */
export function quoteAgiArg(value: string): string {
  return `"${escapedAgiArg(value)}"`;
}

/** What goes between an argument's quotes: the value itself, or with `\` and `"` escaped; refuses as quoteAgiArg does. */
function escapedAgiArg(value: string): string {
  // One scan for the usual argument (nothing to refuse or escape, no surrogate at all); the exact checks otherwise.
  if (!SPECIAL_IN_ARG.test(value)) return value;
  if (FORBIDDEN_IN_ARG.test(value)) {
    throw new AgiCommandError('ARG_FORBIDDEN_CHAR', 'AGI argument contains CR, LF or NUL');
  }
  if (LONE_SURROGATE.test(value)) throw new AgiCommandError('ARG_FORBIDDEN_CHAR', 'AGI argument is not well-formed UTF-16');
  return NEEDS_ESCAPE.test(value) ? value.replace(ESCAPED_CHARS, '\\$&') : value;
}

/**
 * The pieces of a command line, one array per argument count, joined at the end: `[verb, ' "', arg1, '" "', arg2,
 * '"\n']`. A join makes the line a flat string at once, where `+=` builds a rope of a few pieces per argument that
 * the socket's write flattens again; and an array of a fixed length is refilled in place (one emptied with
 * `length = 0` and pushed to again gets a new backing store every time). This runs for every command.
 */
const piecesByArgCount: string[][] = [];
const MAX_PIECE_ARRAYS = 8;

function piecesFor(argCount: number): string[] | undefined {
  if (argCount >= MAX_PIECE_ARRAYS) return undefined;
  let pieces = piecesByArgCount[argCount];
  if (pieces === undefined) {
    pieces = [''];
    for (let i = 0; i < argCount; i++) pieces.push(i === 0 ? ' "' : '" "', '');
    pieces.push(argCount === 0 ? '\n' : '"\n');
    piecesByArgCount[argCount] = pieces;
  }
  return pieces;
}

/**
 * Builds one command line, `VERB "arg1" "arg2"\n`. The verb is a fixed command word sequence
 * (`GET FULL VARIABLE`); every argument is quoted.
 */
export function formatAgiCommand(verb: string, args: readonly string[] = []): string {
  const words = verbWords(verb);
  if (words + args.length > AGI_MAX_ARGS - 1) {
    throw new AgiCommandError('TOO_MANY_ARGS', `AGI command has more than ${AGI_MAX_ARGS - 1} words`);
  }
  const line = joinLine(verb, args);
  // A UTF-16 code unit is at most 3 UTF-8 bytes: short lines need no exact count.
  if (line.length * 3 >= AGI_MAX_COMMAND_BYTES && Buffer.byteLength(line, 'utf8') >= AGI_MAX_COMMAND_BYTES) {
    throw new AgiCommandError('COMMAND_TOO_LONG', `AGI command line must be shorter than ${AGI_MAX_COMMAND_BYTES} bytes`);
  }
  return line;
}

function joinLine(verb: string, args: readonly string[]): string {
  const pieces = piecesFor(args.length);
  if (pieces === undefined) {
    let line = verb;
    for (let i = 0; i < args.length; i++) line += ` "${escapedAgiArg(args[i] as string)}"`;
    return `${line}\n`;
  }
  // A refused argument throws with the earlier ones in their slots: every slot is refilled before the next join.
  for (let i = 0; i < args.length; i++) pieces[2 + 2 * i] = escapedAgiArg(args[i] as string);
  pieces[0] = verb;
  const line = pieces.join('');
  // The arguments are not kept alive by the module.
  for (let i = 0; i < args.length; i++) pieces[2 + 2 * i] = '';
  return line;
}

/**
 * An `EXEC` line joined by its caller, for data built from many pieces on every call (the agent's first MSet): one
 * join of `execLinePrefix(app)`, the data's pieces and {@link EXEC_LINE_END} makes the line, where building the data
 * first and then the line copies the data twice. The line is then checked whole (see {@link isReadyExecLine}).
 */
export function execLinePrefix(application: string): string {
  return `EXEC "${assertApplicationName(application)}" "`;
}

export const EXEC_LINE_END = '"\n';

/**
 * Whether `line` is an EXEC line as {@link formatAgiCommand} would have made it from an application name and data
 * that needed no escaping, under the length bound: the same line, so it is as safe to send.
 */
export function isReadyExecLine(line: string): boolean {
  if (!hasReadyExecShape(line)) return false;
  return line.length * 3 < AGI_MAX_COMMAND_BYTES || Buffer.byteLength(line, 'utf8') < AGI_MAX_COMMAND_BYTES;
}

/**
 * `/^EXEC "[A-Za-z][A-Za-z0-9_]{0,63}" "[^\r\n\0\\"\uD800-\uDFFF]*"\n$/`: `EXEC "<app>" "<data>"\n` whose data needs
 * no escaping and holds nothing to refuse (CR, LF, NUL, `\`, `"`, surrogates). A loop over the characters, not the
 * expression: the agent's first MSet is checked so before the call's first command, where a regular expression's
 * test costs several times a loop once the caches went cold between calls (agi-command.spec.ts holds it to it).
 */
function hasReadyExecShape(line: string): boolean {
  const n = line.length;
  if (!line.startsWith('EXEC "') || !isLetter(line.charCodeAt(6))) return false;
  let i = 7;
  for (; i < n && i <= 70; i++) {
    const c = line.charCodeAt(i);
    if (c === 0x22) break;
    if (!isLetter(c) && !(c >= 0x30 && c <= 0x39) && c !== 0x5f) return false;
  }
  // The name (1-64 characters), `" "`, the data, `"` and LF at the very end.
  if (i - 6 > 64 || line.charCodeAt(i) !== 0x22 || line.charCodeAt(i + 1) !== 0x20 || line.charCodeAt(i + 2) !== 0x22) return false;
  if (n - (i + 3) < 2 || line.charCodeAt(n - 1) !== 0x0a || line.charCodeAt(n - 2) !== 0x22) return false;
  for (let j = i + 3; j < n - 2; j++) {
    const c = line.charCodeAt(j);
    if (c === 0x0d || c === 0x0a || c === 0 || c === 0x5c || c === 0x22 || (c >= 0xd800 && c <= 0xdfff)) return false;
  }
  return true;
}

function isLetter(c: number): boolean {
  return (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
}

/** Verbs already checked, with their word count: the agent sends the same few verbs on every call. */
const knownVerbs = new Map<string, number>();
const MAX_KNOWN_VERBS = 64;

function verbWords(verb: string): number {
  const known = knownVerbs.get(verb);
  if (known !== undefined) return known;
  if (!VERB.test(verb)) throw new AgiCommandError('BAD_VERB', 'AGI verb must be upper-case words separated by single spaces');
  const words = verb.split(' ').length;
  if (knownVerbs.size < MAX_KNOWN_VERBS) knownVerbs.set(verb, words);
  return words;
}

/**
 * Splits a command line exactly as res_agi.c parse_args() does (the LF already removed). Exposed so a
 * test double of Asterisk can read our commands the way Asterisk would.
 */
export function splitAgiCommandLine(line: string): string[] {
  const argv: string[] = [];
  let current: string | undefined;
  let quoted = false;
  let escaped = false;
  let whitespace = true;
  const startWord = (): void => {
    if (current !== undefined) argv.push(current);
    current = '';
    whitespace = false;
  };
  for (const ch of line) {
    if (ch === '"' && !escaped) {
      quoted = !quoted;
      // Opening a quote right after whitespace starts a word, which is how `""` becomes an empty argument.
      if (quoted && whitespace) startWord();
      continue;
    }
    if ((ch === ' ' || ch === '\t') && !quoted && !escaped) {
      whitespace = true;
      continue;
    }
    if (ch === '\\' && !escaped) {
      escaped = true;
      continue;
    }
    if (whitespace) {
      // parse_args() stops starting new words at MAX_ARGS - 1: the character is dropped (escape state kept).
      if (argv.length + (current === undefined ? 0 : 1) >= AGI_MAX_ARGS - 1) continue;
      startWord();
    }
    current = `${current ?? ''}${ch}`;
    escaped = false;
  }
  if (current !== undefined) argv.push(current);
  return argv;
}

// ---------------------------------------------------------------------------------------------------------
// Application data for EXEC.
//
// EXEC hands its data to the application as is, and applications split it again on `,` and `|`, honour
// quotes, `\`, `()` and `[]` (AST_STANDARD_APP_ARGS / ast_app_separate_args), and Dial splits targets on `&`.
// A caller ID name `x,,U(sub)` reaching `EXEC Dial` would add a U() option that runs a subroutine on the
// callee; a `&` adds a dial target. AGI quoting does not help here (it is removed before the application
// sees the data), so application data is built only from whitelisted values. See reference
// "EXEC <app> <data>" in asterisk-protocols.md. Never rely on AGIEXECFULL=yes (it expands ${...}).
// ---------------------------------------------------------------------------------------------------------

const DIAL_NUMBER = /^[0-9*#+]{1,32}$/;
const ASTERISK_NAME = /^[A-Za-z0-9_.-]{1,64}$/;
const APPLICATION_NAME = /^[A-Za-z][A-Za-z0-9_]{0,63}$/;

/** A dialled number: digits, `*`, `#`, `+`, 1-32 characters. Returns it unchanged or throws. */
export function assertDialNumber(value: string): string {
  if (!DIAL_NUMBER.test(value)) throw new AgiAppDataError('INVALID_DIAL_NUMBER', 'not a dial number ([0-9*#+]{1,32})');
  return value;
}

/** An endpoint, context, extension or similar Asterisk object name: `[A-Za-z0-9_.-]{1,64}`. */
export function assertAsteriskName(value: string): string {
  if (!ASTERISK_NAME.test(value)) throw new AgiAppDataError('INVALID_NAME', 'not an Asterisk name ([A-Za-z0-9_.-]{1,64})');
  return value;
}

/** An application name for EXEC (`Dial`, `MixMonitor`, `NoOp`). */
export function assertApplicationName(value: string): string {
  if (!APPLICATION_NAME.test(value)) throw new AgiAppDataError('INVALID_APPLICATION', 'not an application name');
  return value;
}

export interface DialTarget {
  /** `PJSIP` (endpoint or number@endpoint) or `Local` (extension@context). */
  readonly tech: 'PJSIP' | 'Local';
  /** PJSIP: endpoint name, or number when `host` names the endpoint. Local: the extension. Dial number or Asterisk name. */
  readonly resource: string;
  /** PJSIP: the endpoint to send `resource` to (`305@site-piter`). Local: the context (required). */
  readonly host?: string;
}

/**
 * Dial options we allow: letters without arguments that neither run dialplan code nor play files.
 * - `t` / `T`: callee / caller may transfer (features.conf blindxfer/atxfer).
 * - `r`: indicate ringing to the caller (without the optional tone argument).
 * - `g`: go on in the dialplan when the callee hangs up.
 * - `i`: ignore call forwarding requests (302) from the callee.
 * - `c`: mark the call as answered elsewhere when it is cancelled.
 * Everything taking an argument (`U()`, `G()`, `b()`, `B()`, `M()`, `D()`, `L()`, `S()`, `A()`, ...)
 * is deliberately absent: those are what an injection would aim for.
 */
export const DIAL_OPTIONS = ['t', 'T', 'r', 'g', 'i', 'c'] as const;
export type DialOption = (typeof DIAL_OPTIONS)[number];

export interface DialDataInput {
  /** 1-16 targets, dialled in parallel (joined with `&`). */
  readonly targets: readonly DialTarget[];
  /** Ring timeout in whole seconds, 1-3600; omitted = ring until someone hangs up. */
  readonly timeoutSec?: number;
  readonly options?: readonly DialOption[];
  /**
   * A pre-dial handler run on each outgoing channel before it is dialled (app_dial option
   * `b(context^exten^priority(arg1^arg2))`): `s`, priority 1 of `context`, with these arguments. The one option
   * with an argument we build, from whitelisted parts only: an Asterisk name and {@link PRE_DIAL_ARG} values.
   */
  readonly preDial?: { readonly context: string; readonly args: readonly string[] };
}

const MAX_DIAL_TARGETS = 16;
/**
 * A pre-dial handler argument: no `^` (app_dial turns it into the argument separator), `,` `(` `)` `[` `]` `"` `\`
 * `$` or space (the Gosub's own argument parsing and substitution).
 */
const PRE_DIAL_ARG = /^[A-Za-z0-9_.:/+-]{1,100}$/;

function assertDialResource(value: string): string {
  if (DIAL_NUMBER.test(value) || ASTERISK_NAME.test(value)) return value;
  throw new AgiAppDataError('INVALID_DIAL_TARGET', 'dial resource is neither a dial number nor an Asterisk name');
}

/**
 * Dial's data, or its whole `EXEC "Dial" "<data>"` line, joined once from pieces kept from call to call (see
 * {@link LinePieces}): `target()` for each target, then `data()` or `line()`. Every piece is a whitelisted value or
 * a constant, checked as it is added, so no intermediate string is made - the target, the option letters, the
 * pre-dial handler and the data are not strings of their own before the line (the agent dials on most calls).
 * Each instance serves one synchronous function at a time; a refused value throws and empties the builder.
 */
export class DialLineBuilder {
  private readonly pieces = new LinePieces();
  private targets = 0;
  /** The letters added to the current line (a bit per {@link DIAL_OPTIONS} entry). */
  private letters = 0;

  /** Adds a target (rung in parallel with the others: `&`). */
  target(target: DialTarget): this {
    try {
      this.addTarget(target.tech, target.resource, target.host);
    } catch (error) {
      this.reset();
      throw error;
    }
    return this;
  }

  /** `PJSIP/<resource>` or `PJSIP/<resource>@<host>`, without a target object. */
  pjsip(resource: string, host: string | undefined): this {
    try {
      this.addTarget('PJSIP', resource, host);
    } catch (error) {
      this.reset();
      throw error;
    }
    return this;
  }

  /** The data (`PJSIP/305@site-piter,30,tT`). */
  data(timeoutSec?: number, options: readonly DialOption[] = NO_DIAL_OPTIONS, preDial?: DialDataInput['preDial']): string {
    return this.finish(false, timeoutSec, options, preDial);
  }

  /** The whole EXEC line, `EXEC "Dial" "<data>"\n`, as formatAgiCommand would make it from {@link data}'s value. */
  line(timeoutSec?: number, options: readonly DialOption[] = NO_DIAL_OPTIONS, preDial?: DialDataInput['preDial']): string {
    return this.finish(true, timeoutSec, options, preDial);
  }

  private addTarget(tech: DialTarget['tech'], resource: string, host: string | undefined): void {
    if (this.targets === MAX_DIAL_TARGETS) throw new AgiAppDataError('INVALID_DIAL_TARGET', `Dial needs 1-${MAX_DIAL_TARGETS} targets`);
    const pieces = this.pieces;
    // The first piece is the line's start, or '' for the data alone (set by finish).
    if (this.targets === 0) pieces.add('');
    else pieces.add('&');
    this.targets += 1;
    assertDialResource(resource);
    switch (tech) {
      case 'PJSIP':
        pieces.add('PJSIP/').add(resource);
        if (host !== undefined) pieces.add('@').add(assertAsteriskName(host));
        return;
      case 'Local':
        if (host === undefined) throw new AgiAppDataError('INVALID_DIAL_TARGET', 'Local target needs a context');
        pieces.add('Local/').add(resource).add('@').add(assertAsteriskName(host));
        return;
      default:
        throw new AgiAppDataError('INVALID_DIAL_TARGET', 'unsupported channel technology');
    }
  }

  private finish(line: boolean, timeoutSec: number | undefined, options: readonly DialOption[], preDial: DialDataInput['preDial']): string {
    try {
      if (this.targets === 0) throw new AgiAppDataError('INVALID_DIAL_TARGET', `Dial needs 1-${MAX_DIAL_TARGETS} targets`);
      if (timeoutSec !== undefined && (!Number.isInteger(timeoutSec) || timeoutSec < 1 || timeoutSec > 3600)) {
        throw new AgiAppDataError('INVALID_TIMEOUT', 'Dial timeout must be an integer number of seconds, 1-3600');
      }
      const pieces = this.pieces;
      const hasLetters = options.length > 0 || preDial !== undefined;
      if (timeoutSec !== undefined || hasLetters) pieces.add(',').add(timeoutSec === undefined ? '' : String(timeoutSec));
      if (hasLetters) {
        pieces.add(',');
        for (const option of options) this.addOption(option);
        if (preDial !== undefined) this.addPreDial(preDial);
      }
      if (line) pieces.set(0, DIAL_LINE_START).add(EXEC_LINE_END);
      this.targets = 0;
      this.letters = 0;
      return pieces.join();
    } catch (error) {
      this.reset();
      throw error;
    }
  }

  /** An allowed option letter, once (a repeat is dropped, as uniqueOptions does). */
  private addOption(option: string): void {
    const index = (DIAL_OPTIONS as readonly string[]).indexOf(option);
    if (index < 0) throw new AgiAppDataError('INVALID_OPTION', `option ${JSON.stringify(option)} is not allowed`);
    if ((this.letters & (1 << index)) !== 0) return;
    this.letters |= 1 << index;
    this.pieces.add(option);
  }

  /** `b(context^s^1)` or `b(context^s^1(arg1^arg2))`: see {@link DialDataInput.preDial}. */
  private addPreDial(preDial: NonNullable<DialDataInput['preDial']>): void {
    const args = preDial.args;
    if (args.length > 8) throw new AgiAppDataError('INVALID_OPTION', 'a pre-dial handler takes at most 8 arguments');
    for (const arg of args) {
      if (!PRE_DIAL_ARG.test(arg)) throw new AgiAppDataError('INVALID_OPTION', 'pre-dial handler argument has characters outside A-Z a-z 0-9 _ . : / + -');
    }
    const pieces = this.pieces.add('b(').add(assertAsteriskName(preDial.context)).add('^s^1');
    if (args.length > 0) {
      pieces.add('(').add(args[0] as string);
      for (let i = 1; i < args.length; i++) pieces.add('^').add(args[i] as string);
      pieces.add(')');
    }
    pieces.add(')');
  }

  /** After a refused value: the builder is emptied for the next line. */
  private reset(): void {
    this.pieces.join();
    this.targets = 0;
    this.letters = 0;
  }
}

const NO_DIAL_OPTIONS: readonly DialOption[] = Object.freeze([]);
const DIAL_LINE_START = execLinePrefix('Dial');
const DIAL_DATA = new DialLineBuilder();

/** Builds Dial's data, `PJSIP/305@site-piter&PJSIP/101,30,tT`, from whitelisted parts only (see {@link DialLineBuilder}). */
export function dialData(input: DialDataInput): string {
  const { targets, timeoutSec, options = NO_DIAL_OPTIONS } = input;
  if (targets.length === 0 || targets.length > MAX_DIAL_TARGETS) {
    throw new AgiAppDataError('INVALID_DIAL_TARGET', `Dial needs 1-${MAX_DIAL_TARGETS} targets`);
  }
  for (const target of targets) DIAL_DATA.target(target);
  return DIAL_DATA.data(timeoutSec, options, input.preDial);
}

/**
 * MixMonitor options we allow (no argument):
 * - `a`: append to the file instead of overwriting.
 * - `b`: record only while the channel is bridged.
 * Options with arguments (`v()`, `V()`, `W()`, `r()`, `t()`, `i()`, `m()`) and the post-process command
 * argument are deliberately not offered: the command runs in a shell on the PBX.
 */
export const MIXMONITOR_OPTIONS = ['a', 'b'] as const;
export type MixMonitorOption = (typeof MIXMONITOR_OPTIONS)[number];

/** A relative path of `[A-Za-z0-9_-][A-Za-z0-9_.-]*` segments with an audio extension; no `..`, no leading `/`. */
const RECORDING_FILE = /^(?:[A-Za-z0-9_-][A-Za-z0-9_.-]{0,63}\/){0,4}[A-Za-z0-9_-][A-Za-z0-9_.-]{0,63}\.(?:wav|WAV|gsm|wav49|sln|ulaw|alaw|g722)$/;

/** Builds MixMonitor's data, `site1/2026/call-1.wav,b`, relative to Asterisk's monitor directory. */
export function mixMonitorData(file: string, options: readonly MixMonitorOption[] = []): string {
  if (!RECORDING_FILE.test(file)) {
    throw new AgiAppDataError('INVALID_FILENAME', 'recording file must be a relative path of safe segments with an audio extension');
  }
  const letters = uniqueOptions(options, MIXMONITOR_OPTIONS);
  return letters === '' ? file : `${file},${letters}`;
}

function uniqueOptions(options: readonly string[], allowed: readonly string[]): string {
  let letters = '';
  for (const option of options) {
    if (!allowed.includes(option)) throw new AgiAppDataError('INVALID_OPTION', `option ${JSON.stringify(option)} is not allowed`);
    // Allowed options are single letters: a letter already in the string was already seen.
    if (!letters.includes(option)) letters += option;
  }
  return letters;
}

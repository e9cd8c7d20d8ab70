// How Asterisk applications read the data string they get from `EXEC <app> <data>`. Independent of the
// agent's builders on purpose: tests use these to see what an application would really have received.

/**
 * ast_app_separate_args() (main/app.c, remove_chars = 1): split on `delim` outside `(...)`, `[...]` and
 * `"..."`; quotes are removed, `\` makes the next character literal and is removed. A trailing delimiter
 * does not produce an empty last argument (the C loop stops at the end of the string).
 */
export function separateAppArgs(data: string, delim = ',', max = 128): string[] {
  const out: string[] = [];
  let i = 0;
  while (i < data.length && out.length < max - 1) {
    let arg = '';
    let paren = 0;
    let bracket = 0;
    let quote = false;
    let ended = false;
    for (; i < data.length; i += 1) {
      const ch = data[i] as string;
      if (ch === '(') {
        paren += 1;
      } else if (ch === ')') {
        if (paren) paren -= 1;
      } else if (ch === '[') {
        bracket += 1;
      } else if (ch === ']') {
        if (bracket) bracket -= 1;
      } else if (ch === '"' && delim !== '"') {
        quote = !quote;
        continue;
      } else if (ch === '\\') {
        i += 1;
        if (i < data.length) arg += data[i] as string;
        continue;
      } else if (ch === delim && !paren && !quote && !bracket) {
        i += 1;
        ended = true;
        break;
      }
      arg += ch;
    }
    out.push(arg);
    if (ended && i >= data.length) break;
  }
  if (i < data.length) out.push(data.slice(i));
  return out;
}

export interface AppOption {
  readonly flag: string;
  readonly arg?: string;
}

/**
 * ast_app_parse_options(): every character is an option letter; a letter followed by `(` takes the text up
 * to the matching `)` as its argument (nested parentheses kept, `\` escapes removed).
 */
export function parseAppOptions(options: string): AppOption[] {
  const out: AppOption[] = [];
  let i = 0;
  while (i < options.length) {
    const flag = options[i] as string;
    i += 1;
    if (options[i] !== '(') {
      out.push({ flag });
      continue;
    }
    i += 1;
    let depth = 1;
    let arg = '';
    for (; i < options.length; i += 1) {
      const ch = options[i] as string;
      if (ch === '\\' && i + 1 < options.length) {
        i += 1;
        arg += options[i] as string;
        continue;
      }
      if (ch === '(') depth += 1;
      else if (ch === ')') {
        depth -= 1;
        if (depth === 0) break;
      }
      arg += ch;
    }
    i += 1;
    out.push({ flag, arg });
  }
  return out;
}

export interface DialPeer {
  readonly tech: string;
  readonly resource: string;
}

export interface ParsedDial {
  /** `TECH/resource` as app_dial sees each `&`-separated peer. */
  readonly targets: string[];
  readonly peers: DialPeer[];
  /** Peers without a `/` (app_dial logs "Dial argument takes format (technology/resource)" and skips them). */
  readonly invalidPeers: string[];
  /** Seconds; null when absent or not a positive number (app_dial then rings forever). */
  readonly timeoutSec: number | null;
  readonly rawTimeout: string | undefined;
  readonly rawOptions: string;
  readonly options: AppOption[];
  readonly url: string | undefined;
  /** Every argument after the split on `,` (app_dial ignores anything past the 4th). */
  readonly args: string[];
}

/** `Dial(Technology/Resource[&Technology2/Resource2...][,timeout[,options[,URL]]])` as app_dial.c reads it. */
export function parseDialData(data: string): ParsedDial {
  const args = separateAppArgs(data, ',');
  const peerList = args[0] ?? '';
  const targets: string[] = [];
  const peers: DialPeer[] = [];
  const invalidPeers: string[] = [];
  for (const peer of peerList.split('&')) {
    if (peer === '') continue;
    const slash = peer.indexOf('/');
    if (slash < 0) {
      invalidPeers.push(peer);
      continue;
    }
    targets.push(peer);
    peers.push({ tech: peer.slice(0, slash), resource: peer.slice(slash + 1) });
  }
  const rawTimeout = args[1];
  const t = rawTimeout === undefined ? NaN : Number.parseFloat(rawTimeout);
  const rawOptions = args[2] ?? '';
  return {
    targets,
    peers,
    invalidPeers,
    timeoutSec: Number.isFinite(t) && t > 0 ? t : null,
    rawTimeout,
    rawOptions,
    options: parseAppOptions(rawOptions),
    url: args[3],
    args,
  };
}

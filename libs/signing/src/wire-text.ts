import { createHash } from 'node:crypto';

/** `sha256:<hex>` of a text: the form of a snapshot's content hash. */
export function sha256(text: string): string {
  return `sha256:${createHash('sha256').update(text).digest('hex')}`;
}

/**
 * `sha256(text.slice(from, to))`, fed to the hash `charsPerStep` characters at a time with a yield after each piece
 * but the last: a head office's 20 MB took the event loop ~60 ms in one piece. A piece never ends between the halves
 * of a surrogate pair, so each one encodes to UTF-8 as it does within the whole and the digest is the same.
 */
export function* sha256Steps(text: string, from: number, to: number, charsPerStep: number): Generator<void, string> {
  const hash = createHash('sha256');
  for (let i = from; i < to; ) {
    let end = Math.min(to, i + charsPerStep);
    const last = text.charCodeAt(end - 1);
    if (end < to && last >= 0xd800 && last <= 0xdbff) end += 1;
    hash.update(text.slice(i, end));
    i = end;
    if (i < to) yield;
  }
  return `sha256:${hash.digest('hex')}`;
}

const CONFIG_MEMBER = ',"config":';

/**
 * Where a snapshot's JSON text puts its config, when the text ends with it as `,"config":<value>}` (the wire form
 * signCanonical writes): the envelope is `text.slice(0, envelopeEnd)` + `}`, the config's bytes
 * `text.slice(configStart, -1)`. Sound for any text that parsed: a `"` after a `,` cannot be inside a string (it
 * would close it, and a bare `config` would follow), so `,"config":` is a member key; the value after it is
 * followed only by the `}` that ends the text, so that member belongs to the root object and is its last - the one
 * JSON.parse keeps. When those bytes hash to the signed hash, `config` was parsed from exactly the signed text.
 */
export function configSpan(text: string): { envelopeEnd: number; configStart: number } | undefined {
  if (!text.endsWith('}')) return undefined;
  const at = text.indexOf(CONFIG_MEMBER);
  return at < 0 ? undefined : { envelopeEnd: at, configStart: at + CONFIG_MEMBER.length };
}

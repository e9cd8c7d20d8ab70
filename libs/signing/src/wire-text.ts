import { createHash } from 'node:crypto';

/** `sha256:<hex>` of a text: the form of a snapshot's content hash. */
export function sha256(text: string): string {
  return `sha256:${createHash('sha256').update(text).digest('hex')}`;
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

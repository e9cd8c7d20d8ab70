/** Why a renderer refused to write a value into Asterisk or WireGuard config text. */
export type RenderErrorCode =
  /** The value holds a character its field does not allow (CR/LF, `;`, `[`, `,`, quotes, ...) or has the wrong shape. */
  | 'UNSAFE_VALUE'
  /** A value the object needs is absent (a peer address, a link secret, a trunk username). */
  | 'MISSING_VALUE'
  /** Two objects would get the same section name and type (or a WireGuard peer/address is given twice). */
  | 'DUPLICATE_OBJECT'
  /** An option name that is not in the object type's known option set (a renderer bug, caught before Asterisk sees it). */
  | 'UNKNOWN_OPTION'
  /** A phone endpoint name that fedpbx reserves for its own objects (`site-`, `trunk-`, `fedpbx-`). */
  | 'RESERVED_NAME'
  /** Values that are each fine but contradict each other (overlapping WireGuard AllowedIPs). */
  | 'CONFLICT';

/**
 * A value refused at render time. It names the object and the field, never the value itself: the value may
 * be a secret, and it may be the very text (CR/LF) that would corrupt a log line.
 */
export class RenderError extends Error {
  override readonly name = 'RenderError';

  constructor(
    readonly code: RenderErrorCode,
    /** The object being rendered, e.g. `endpoint site-piter`, `trunk t-moscow-city`, `wireguard peer piter`. */
    readonly object: string,
    /** The field of that object, e.g. `host`, `secret`, `allowedIps[1]`. */
    readonly field: string,
    /** What is wrong, in words. */
    readonly reason: string,
  ) {
    super(`${describe(code)}: ${printable(object)}: ${printable(field)}: ${reason}`);
  }
}

function describe(code: RenderErrorCode): string {
  switch (code) {
    case 'UNSAFE_VALUE':
      return 'unsafe value';
    case 'MISSING_VALUE':
      return 'missing value';
    case 'DUPLICATE_OBJECT':
      return 'duplicate object';
    case 'UNKNOWN_OPTION':
      return 'unknown option';
    case 'RESERVED_NAME':
      return 'reserved name';
    case 'CONFLICT':
      return 'conflicting values';
  }
}

/** Object labels are built from ids that should be safe already; make sure a bad one cannot break a log line. */
function printable(text: string): string {
  return text.replace(/[^\x20-\x7e]/g, '?').slice(0, 120);
}

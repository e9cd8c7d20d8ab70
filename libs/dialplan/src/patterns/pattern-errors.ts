/** Why an extension name could not be parsed. */
export type PatternSyntaxErrorCode =
  /** Nothing left to match: `_`, `_--`, `_[]`, `` or `---`. */
  | 'EMPTY'
  /** A `[` without its `]`; Asterisk logs "Wrong usage of [] in the extension" and never matches it. */
  | 'UNCLOSED_SET'
  /** A range whose end is below its start, such as `[9-1]`: Asterisk silently matches nothing with it. */
  | 'BAD_RANGE'
  /** A `/`: Asterisk reads what follows as a caller-ID match, which fedpbx does not support. */
  | 'UNSUPPORTED_CID'
  /** Longer than 80 characters (Asterisk's AST_MAX_EXTENSION). */
  | 'TOO_LONG'
  /** A character outside printable ASCII (space, control, non-ASCII). */
  | 'BAD_CHAR';

export class PatternSyntaxError extends Error {
  override readonly name = 'PatternSyntaxError';

  constructor(
    readonly code: PatternSyntaxErrorCode,
    /** The extension name as it was given. */
    readonly text: string,
    /** Index in `text` of the offending character, when there is one. */
    readonly index?: number,
  ) {
    super(`${describe(code)}: ${JSON.stringify(text)}${index === undefined ? '' : ` at ${index}`}`);
  }
}

function describe(code: PatternSyntaxErrorCode): string {
  switch (code) {
    case 'EMPTY':
      return 'empty extension pattern';
    case 'UNCLOSED_SET':
      return "'[' without a closing ']'";
    case 'BAD_RANGE':
      return 'character range ends before it starts';
    case 'UNSUPPORTED_CID':
      return "caller-ID matching ('/') is not supported";
    case 'TOO_LONG':
      return 'extension longer than 80 characters';
    case 'BAD_CHAR':
      return 'character outside printable ASCII';
  }
}

/** Why `rangeToPatterns` refused a range. */
export type ExtensionRangeErrorCode =
  /** `from` or `to` is empty or holds something other than the digits 0-9. */
  | 'NOT_DIGITS'
  /** `from` and `to` have different lengths (`'100'`..`'1000'`): not one block of extensions. */
  | 'LENGTH_MISMATCH'
  /** `from` is above `to`. */
  | 'REVERSED';

export class ExtensionRangeError extends Error {
  override readonly name = 'ExtensionRangeError';

  constructor(
    readonly code: ExtensionRangeErrorCode,
    readonly from: string,
    readonly to: string,
  ) {
    super(`bad extension range (${code}): ${JSON.stringify(from)}..${JSON.stringify(to)}`);
  }
}

// The FastAGI command-line tokenizer of Asterisk, re-implemented independently from the agent's codecs so
// that tests compare two implementations. Behaviour follows parse_args() in res/res_agi.c:
// - spaces and tabs separate arguments (repeated separators do not make empty arguments);
// - `"` toggles quoting; a quote that opens right after whitespace starts a new (possibly empty) argument,
//   a quote inside a word just toggles (`ab"c d"e` is one argument `abc de`);
// - `\` makes the next character literal (so `\"`, `\\`, `\ `; `\n` is just `n`);
// - at most MAX_ARGS - 1 words are kept: characters that would start a further word are dropped.
// The line must already be stripped of its `\n`; a `\r` is an ordinary character, as in Asterisk.

/** res_agi.c `#define MAX_ARGS 128`; argv also holds the terminating NULL, hence 127 words. */
export const AGI_MAX_ARGS = 128;

export function parseAgiArgs(line: string): string[] {
  const argv: string[] = [];
  // Index of the word characters go to; -1 once words are being dropped past MAX_ARGS.
  let cur = -1;
  let quoted = false;
  let escaped = false;
  let whitespace = true;

  for (const ch of line) {
    let normal = false;
    switch (ch) {
      case '"':
        if (escaped) {
          normal = true;
          break;
        }
        quoted = !quoted;
        if (quoted && whitespace) {
          // res_agi.c: "If we're starting a quote, coming off white space start a new word, too"
          // (the C code does not check MAX_ARGS here; we do, so argv never grows past the C array).
          cur = argv.length < AGI_MAX_ARGS - 1 ? argv.push('') - 1 : -1;
          whitespace = false;
        }
        escaped = false;
        break;
      case ' ':
      case '\t':
        if (!quoted && !escaped) whitespace = true;
        else normal = true;
        break;
      case '\\':
        if (escaped) normal = true;
        else escaped = true;
        break;
      default:
        normal = true;
    }
    if (!normal) continue;
    if (whitespace) {
      // "Too many arguments, truncating": the character is dropped and the parser stays "in whitespace".
      if (argv.length >= AGI_MAX_ARGS - 1) continue;
      cur = argv.push('') - 1;
      whitespace = false;
    }
    if (cur >= 0) argv[cur] += ch;
    escaped = false;
  }
  return argv;
}

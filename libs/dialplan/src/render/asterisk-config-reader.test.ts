/**
 * Test-only: reads config text the way Asterisk 22's main/config.c does (`config_text_file_load` and
 * `process_text_line`), so a spec can check what Asterisk would take out of a rendered file, not what we meant:
 * - lines are read with fgets into `char buf[8192]`: a line of more than 8190 bytes (plus its newline) is skipped;
 * - `;` starts a comment unless preceded by `\` (the `\` is removed); `;--` opens and `--;` closes a block comment
 *   (nesting counted; a `--;` outside one makes the counter negative and every later line a comment);
 * - the rest of the line is stripped of white space; `[name]` (optionally `(options)`) opens a category, `#` is a
 *   directive; otherwise `name=value`, `name=>value` (the object form: the `>` is eaten), `name+=value` (append);
 *   name and value are stripped again.
 * Directives are reported, not followed.
 */

export interface ConfigVariable {
  readonly category: string | undefined;
  readonly name: string;
  readonly value: string;
  /** Written as `=>`. */
  readonly object: boolean;
  readonly line: number;
}

export interface ReadConfig {
  readonly categories: readonly string[];
  readonly variables: readonly ConfigVariable[];
  readonly directives: readonly string[];
  /** Lines config.c would skip or complain about ("too long", "No category context", "No variable name"). */
  readonly problems: readonly string[];
}

const BUF = 8192;

export function readAsteriskConfig(text: string): ReadConfig {
  const categories: string[] = [];
  const variables: ConfigVariable[] = [];
  const directives: string[] = [];
  const problems: string[] = [];
  let category: string | undefined;
  let comment = 0;
  const bytes = new TextEncoder();
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  lines.forEach((raw, index) => {
    const lineno = index + 1;
    if (bytes.encode(raw).length + 1 > BUF - 1) {
      problems.push(`line ${lineno}: too long, skipped`);
      return;
    }
    // The comment scan of config_text_file_load, on a mutable copy of the line.
    let buf = raw;
    let processStart: number | undefined = comment > 0 ? undefined : 0;
    let from = 0;
    for (;;) {
      const at = buf.indexOf(';', from);
      if (at < 0) break;
      if (at > from && buf[at - 1] === '\\') {
        buf = buf.slice(0, at - 1) + buf.slice(at);
        from = at; // now at the ';' that was escaped, moved one left: continue after it
        continue;
      }
      if (buf[at + 1] === '-' && buf[at + 2] === '-' && buf[at + 3] !== '-') {
        comment++;
        buf = buf.slice(0, at) + '\u0000' + buf.slice(at + 1);
        from = at + 3;
        continue;
      }
      if (at >= from + 2 && buf[at - 1] === '-' && buf[at - 2] === '-') {
        comment--;
        from = at + 1;
        if (comment === 0) {
          if (processStart !== undefined) {
            const end = buf.indexOf('\u0000');
            buf = buf.slice(0, end) + buf.slice(from);
            from = end;
          } else {
            processStart = from;
          }
        }
        continue;
      }
      if (comment === 0) {
        buf = buf.slice(0, at);
        break;
      }
      from = at + 1;
    }
    if (processStart === undefined) return;
    let cur = buf.slice(processStart);
    const nul = cur.indexOf('\u0000');
    if (nul >= 0) cur = cur.slice(0, nul);
    cur = strip(cur);
    if (cur === '') return;
    if (cur.startsWith('[')) {
      const end = cur.indexOf(']');
      if (end < 0) {
        problems.push(`line ${lineno}: no closing ]`);
        return;
      }
      category = cur.slice(1, end);
      categories.push(category);
      return;
    }
    if (cur.startsWith('#')) {
      directives.push(cur);
      return;
    }
    if (category === undefined) {
      problems.push(`line ${lineno}: no category context`);
      return;
    }
    const eq = cur.indexOf('=');
    if (eq < 0) {
      problems.push(`line ${lineno}: no =`);
      return;
    }
    let name = cur.slice(0, eq);
    let value = cur.slice(eq + 1);
    let object = false;
    if (name.endsWith('+')) name = name.slice(0, -1);
    else if (value.startsWith('>')) {
      object = true;
      value = value.slice(1);
    }
    name = strip(name);
    if (name === '') {
      problems.push(`line ${lineno}: no variable name`);
      return;
    }
    variables.push({ category, name, value: strip(value), object, line: lineno });
  });
  if (comment !== 0) problems.push(`block comment counter ends at ${comment}`);
  return { categories, variables, directives, problems };
}

/** ast_strip: leading and trailing white space (isspace: space, \t \n \v \f \r). */
function strip(s: string): string {
  return s.replace(/^[ \t\n\v\f\r]+|[ \t\n\v\f\r]+$/g, '');
}

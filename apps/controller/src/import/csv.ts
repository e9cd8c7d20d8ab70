import type { z } from 'zod';

/** One problem of one imported row: `row` is the array index (JSON) or the line number in the file, header = 1 (CSV). */
export interface ImportProblem {
  readonly kind: string;
  readonly row: number;
  readonly path: string;
  readonly message: string;
}

/** A data record of a CSV file with the line it starts on. */
export interface CsvRecord {
  readonly line: number;
  readonly cells: string[];
}

/**
 * RFC 4180 CSV: comma-separated, double-quoted cells may hold commas, quotes ("") and line breaks; CRLF or LF.
 * Blank lines are skipped. Throws on an unterminated quote.
 */
export function parseCsv(text: string): CsvRecord[] {
  const out: CsvRecord[] = [];
  let cells: string[] = [];
  let cell = '';
  let quoted = false;
  let line = 1;
  let start = 1;
  let any = false;
  const endRecord = () => {
    cells.push(cell);
    if (any || cells.length > 1 || cell !== '') out.push({ line: start, cells });
    cells = [];
    cell = '';
    any = false;
  };
  const s = text.startsWith('\uFEFF') ? text.slice(1) : text;
  for (let i = 0; i < s.length; i++) {
    const ch = s[i] as string;
    if (quoted) {
      if (ch === '"') {
        if (s[i + 1] === '"') {
          cell += '"';
          i++;
        } else quoted = false;
      } else {
        if (ch === '\n') line++;
        cell += ch;
      }
      continue;
    }
    if (ch === '"') {
      quoted = true;
      any = true;
    } else if (ch === ',') {
      cells.push(cell);
      cell = '';
      any = true;
    } else if (ch === '\n' || ch === '\r') {
      if (ch === '\r' && s[i + 1] === '\n') i++;
      endRecord();
      line++;
      start = line;
    } else cell += ch;
  }
  if (quoted) throw new Error(`unterminated quoted cell starting on line ${start}`);
  if (cell !== '' || cells.length > 0 || any) endRecord();
  return out;
}

type Scalar = 'string' | 'number' | 'boolean';
interface ZodLike {
  readonly def: { readonly type: string; readonly innerType?: ZodLike; readonly shape?: Record<string, ZodLike> };
}

/** The scalar properties of an object schema (optional/defaulted unwrapped): the columns a CSV file of it may have. */
export function scalarFields(schema: z.ZodType): Map<string, Scalar> {
  const shape = (schema as unknown as ZodLike).def.shape ?? {};
  const out = new Map<string, Scalar>();
  for (const [name, field] of Object.entries(shape)) {
    let f: ZodLike = field;
    while ((f.def.type === 'optional' || f.def.type === 'default' || f.def.type === 'nullable') && f.def.innerType !== undefined) f = f.def.innerType;
    const t = f.def.type;
    if (t === 'string' || t === 'enum' || t === 'literal') out.set(name, 'string');
    else if (t === 'number' || t === 'int') out.set(name, 'number');
    else if (t === 'boolean') out.set(name, 'boolean');
  }
  return out;
}

const TRUE = new Set(['true', '1', 'yes']);
const FALSE = new Set(['false', '0', 'no']);

/**
 * CSV text to objects of a schema: a header row naming scalar properties, then one object per line. Empty cells
 * are absent properties (defaults apply); numbers and booleans are converted, anything unconvertible is left as
 * text for the schema to refuse. Problems of the file itself (header, cell count) are reported per line.
 */
export function csvObjects(kind: string, schema: z.ZodType, text: string): { rows: { row: number; value: Record<string, unknown> }[]; problems: ImportProblem[] } {
  const problems: ImportProblem[] = [];
  let records: CsvRecord[];
  try {
    records = parseCsv(text);
  } catch (e) {
    return { rows: [], problems: [{ kind, row: 0, path: '', message: (e as Error).message }] };
  }
  const [header, ...data] = records;
  if (header === undefined) return { rows: [], problems: [{ kind, row: 1, path: '', message: 'a header row is expected' }] };
  const fields = scalarFields(schema);
  const columns = header.cells.map((c) => c.trim());
  columns.forEach((c, i) => {
    if (!fields.has(c)) problems.push({ kind, row: header.line, path: c, message: `unknown column (expected some of ${[...fields.keys()].join(', ')})` });
    else if (columns.indexOf(c) !== i) problems.push({ kind, row: header.line, path: c, message: 'duplicate column' });
  });
  if (problems.length > 0) return { rows: [], problems };
  const rows = data.map((r) => {
    if (r.cells.length !== columns.length) problems.push({ kind, row: r.line, path: '', message: `${r.cells.length} cells, the header has ${columns.length}` });
    const value: Record<string, unknown> = {};
    columns.forEach((c, i) => {
      const cell = r.cells[i];
      if (cell === undefined || cell === '') return;
      const type = fields.get(c);
      if (type === 'number') value[c] = cell.trim() !== '' && Number.isFinite(Number(cell)) ? Number(cell) : cell;
      else if (type === 'boolean') value[c] = TRUE.has(cell.trim().toLowerCase()) ? true : FALSE.has(cell.trim().toLowerCase()) ? false : cell;
      else value[c] = cell;
    });
    return { row: r.line, value };
  });
  return { rows, problems };
}

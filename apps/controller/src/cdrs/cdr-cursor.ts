import { InvalidInputError } from '../errors.js';

/** Where a CDR page ended: the last record's (start, site, CDR id), the key the API pages newest first on. */
export interface CdrCursor {
  readonly start: string;
  readonly siteId: string;
  readonly cdrId: string;
}

/** Opaque to clients: base64url of a JSON triple. */
export function encodeCdrCursor(c: CdrCursor): string {
  return Buffer.from(JSON.stringify([c.start, c.siteId, c.cdrId])).toString('base64url');
}

export function decodeCdrCursor(cursor: string): CdrCursor {
  const bad = () => new InvalidInputError('invalid query', [{ path: 'cursor', message: 'not a cursor from a previous page' }]);
  let v: unknown;
  try {
    v = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw bad();
  }
  if (!Array.isArray(v) || v.length !== 3 || !v.every((x) => typeof x === 'string')) throw bad();
  const [start, siteId, cdrId] = v as [string, string, string];
  if (Number.isNaN(Date.parse(start))) throw bad();
  return { start, siteId, cdrId };
}

import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import type { Federation } from '@fedpbx/contracts';
import { actorName, type Principal } from '../auth/principal.js';
import { DomainError, ForbiddenError } from '../errors.js';
import { COLLECTIONS, findObject, type CollectionName, type FederationChange } from '../federation/federation-change.js';
import { FederationWriter } from '../federation/federation-writer.js';
import { RESOURCE_KINDS, type ResourceKind } from '../resources/resource-kinds.js';
import { generateCredential, type WriteResponse } from '../resources/resource.service.js';
import { csvObjects, type ImportProblem } from './csv.js';
import { answeredValidation } from '../federation/write-validation.js';

/** Kinds a CSV file may hold (one kind per file). */
export const CSV_KINDS = ['sites', 'numberRanges', 'extensions'] as const;
export type CsvKind = (typeof CSV_KINDS)[number];

/** Objects to import by collection; `row` numbers each for the error report. */
export type ImportRows = Partial<Record<CollectionName, { row: number; value: unknown }[]>> & {
  /** The federation's hub site (JSON only), set in the same write. */
  hubSiteId?: string;
};

export interface ImportResponse extends Omit<WriteResponse, 'data'> {
  /** How many objects of each kind were imported (would be, for a dry run). */
  readonly imported: Partial<Record<CollectionName, number>>;
}

/** A 400 listing every refused row: `{ error: { code: 'invalid-input', message, problems: [{ kind, row, path, message }] } }`. */
export class ImportInvalidError extends DomainError {
  constructor(readonly problems: readonly ImportProblem[]) {
    super('invalid-input', `import refused: ${problems.length} problem(s)`, { problems });
  }
}

/**
 * Bulk import (head office): many objects of many kinds created in ONE federation write, so the whole
 * federation is validated once and the import is saved all or nothing. Rows are checked first (schema, ids
 * unique in the import and new to the federation) and every bad row is reported; only then the federation.
 * Extensions without a SIP secret get a generated one; secrets are never returned.
 */
@Injectable()
export class ImportService {
  constructor(private readonly writer: FederationWriter) {}

  /** A JSON body: `{ sites?: [...], numberRanges?: [...], extensions?: [...], ..., hubSiteId? }`; `row` is the array index. */
  fromJson(body: unknown): ImportRows {
    if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new ImportInvalidError([{ kind: '', row: 0, path: '', message: 'a JSON object of arrays by kind is expected' }]);
    const problems: ImportProblem[] = [];
    const rows: ImportRows = {};
    for (const [key, items] of Object.entries(body as Record<string, unknown>)) {
      if (key === 'hubSiteId') {
        if (typeof items === 'string') rows.hubSiteId = items;
        else problems.push({ kind: 'hubSiteId', row: 0, path: key, message: 'a site id is expected' });
        continue;
      }
      if (!(COLLECTIONS as readonly string[]).includes(key)) {
        problems.push({ kind: key, row: 0, path: key, message: `unknown kind (expected some of ${COLLECTIONS.join(', ')})` });
        continue;
      }
      if (!Array.isArray(items)) {
        problems.push({ kind: key, row: 0, path: key, message: 'an array is expected' });
        continue;
      }
      rows[key as CollectionName] = items.map((value: unknown, row) => ({ row, value }));
    }
    if (problems.length > 0) throw new ImportInvalidError(problems);
    return rows;
  }

  /** A CSV file of one kind; `row` is the line number in the file (the header is line 1). */
  fromCsv(kind: string | undefined, text: string): ImportRows {
    if (kind === undefined || !(CSV_KINDS as readonly string[]).includes(kind)) {
      throw new ImportInvalidError([{ kind: kind ?? '', row: 0, path: 'kind', message: `?kind= must be one of ${CSV_KINDS.join(', ')}` }]);
    }
    const k = RESOURCE_KINDS[kind as CsvKind] as ResourceKind;
    const { rows, problems } = csvObjects(kind, k.schema, text);
    if (problems.length > 0) throw new ImportInvalidError(problems);
    return { [kind]: rows };
  }

  /** Only head office imports (checked before the body is looked at). */
  authorize(caller: Principal): void {
    if (!caller.scope.headOffice) throw new ForbiddenError('only head office may import');
  }

  async import(caller: Principal, input: ImportRows, dryRun: boolean): Promise<ImportResponse> {
    this.authorize(caller);
    const problems: ImportProblem[] = [];
    const parsed: { collection: CollectionName; row: number; value: { id: string } }[] = [];
    for (const collection of COLLECTIONS) {
      const kind = RESOURCE_KINDS[collection] as ResourceKind;
      const ids = new Set<string>();
      for (const { row, value } of input[collection] ?? []) {
        if (typeof value !== 'object' || value === null || Array.isArray(value)) {
          problems.push({ kind: collection, row, path: '', message: 'an object is expected' });
          continue;
        }
        const raw = value as Record<string, unknown>;
        const obj: Record<string, unknown> = { ...raw, id: typeof raw['id'] === 'string' ? raw['id'] : `${kind.idPrefix}-${randomUUID()}` };
        for (const f of kind.generatedSecrets) if (obj[f] === undefined) obj[f] = generateCredential(f);
        const r = kind.schema.safeParse(obj);
        if (!r.success) {
          for (const i of r.error.issues) problems.push({ kind: collection, row, path: i.path.map(String).join('.'), message: i.message });
          continue;
        }
        const parsedValue = r.data as { id: string };
        if (ids.has(parsedValue.id)) {
          problems.push({ kind: collection, row, path: 'id', message: `duplicate id ${parsedValue.id} in the import` });
          continue;
        }
        ids.add(parsedValue.id);
        parsed.push({ collection, row, value: parsedValue });
      }
    }
    if (problems.length > 0) throw new ImportInvalidError(problems);
    const total = parsed.length;
    const outcome = await this.writer.write({ actor: actorName(caller), reason: `import of ${total} objects`, dryRun }, (fed: Federation) => {
      const existing: ImportProblem[] = [];
      for (const p of parsed) {
        if (findObject(fed, p.collection, p.value.id) !== undefined) {
          existing.push({ kind: p.collection, row: p.row, path: 'id', message: `${RESOURCE_KINDS[p.collection].objectType} ${p.value.id} already exists` });
        }
      }
      if (existing.length > 0) throw new ImportInvalidError(existing);
      // Dependency order (COLLECTIONS): a change to sites comes first, so the impact is worked out for all sites at once.
      const changes = parsed.map((p) => ({ collection: p.collection, op: 'upsert', value: p.value }) as FederationChange);
      if (input.hubSiteId !== undefined) changes.push({ collection: 'hub', op: 'set', hubSiteId: input.hubSiteId });
      return changes;
    });
    const imported: Partial<Record<CollectionName, number>> = {};
    for (const p of parsed) imported[p.collection] = (imported[p.collection] ?? 0) + 1;
    return {
      dryRun,
      imported,
      validation: answeredValidation(outcome.validation, caller.scope),
      changedSites: outcome.changedSites.map((s) => s.siteId),
      revisions: outcome.revisions,
    };
  }
}

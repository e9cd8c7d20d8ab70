import { randomBytes, randomInt, randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import type { Federation, WriteAnswer } from '@fedpbx/contracts';
import type { FederationIssue } from '@fedpbx/dialplan';
import type { EntityManager } from 'typeorm';
import type { Scope } from '../access/scope.js';
import { actorName, type Principal } from '../auth/principal.js';
import { CallFlowLayoutService } from '../call-flows/call-flow-layout.service.js';
import { splitFlowPositions } from '../call-flows/flow-positions.js';
import { AlreadyExistsError, ForbiddenError, InvalidInputError, NotFoundError, PropertyForbiddenError, ValidationConflictError } from '../errors.js';
import { findObject, type CollectionName, type FederationChange, type ObjectOf } from '../federation/federation-change.js';
import { FederationWriter, type WriteOutcome } from '../federation/federation-writer.js';
import { answeredValidation } from '../federation/write-validation.js';
import { sitesOfObject } from '../federation/object-sites.js';
import { parseInput } from '../http/input.js';
import { SurvivabilityService, type SurvivabilityPreview } from '../survivability/survivability.service.js';
import { redactIssues } from './issue-redaction.js';
import { headOfficeChanges, toResponse, type ResourceKind, type WriteLevel } from './resource-kinds.js';
import { ScopedReadRepository, type ListQuery, type Page } from './scoped-read.repository.js';

/**
 * What every write answers (libs/contracts' WriteAnswer): the object (when one remains), the validation, the
 * sites whose snapshot changes; dry runs of valid writes also say what changes in the survivability reports of the
 * caller's changed sites.
 */
export type WriteResponse = WriteAnswer<Record<string, unknown>, FederationIssue> & { readonly survivability?: SurvivabilityPreview };

/** A generated credential: 32 URL-safe characters (192 bits), inside the contracts' Secret alphabet. */
export const generateSecret = (): string => randomBytes(24).toString('base64url');

/** A generated voicemail PIN: 8 random digits (the contracts' VoicemailPin), for the mailbox's owner to change. */
export const generatePin = (): string => String(randomInt(0, 100_000_000)).padStart(8, '0');

/** The generated value of a credential field a create left out. */
export const generateCredential = (field: string): string => (field === 'voicemailPin' ? generatePin() : generateSecret());

/**
 * Create, read, update and delete of one kind of federation object, with the rights rules: objects outside the
 * caller's sites do not exist (404), a read-only grant refuses writes (403), head-office-only kinds and
 * properties are refused to everyone else (403), credentials are write-only.
 */
@Injectable()
export class ResourceService {
  constructor(
    private readonly reads: ScopedReadRepository,
    private readonly writer: FederationWriter,
    private readonly layouts: CallFlowLayoutService,
    private readonly survivability: SurvivabilityService,
  ) {}

  async list<C extends CollectionName>(caller: Principal, kind: ResourceKind<C>, q: ListQuery): Promise<Page<Record<string, unknown>>> {
    const page = await this.reads.list(kind.collection, caller.scope, q);
    return { ...page, items: page.items.map((o) => toResponse(kind, o)) };
  }

  async get<C extends CollectionName>(caller: Principal, kind: ResourceKind<C>, id: string): Promise<Record<string, unknown>> {
    const o = await this.reads.get(kind.collection, caller.scope, id);
    if (o === undefined) throw new NotFoundError(kind.objectType, id);
    return toResponse(kind, o);
  }

  async create<C extends CollectionName>(caller: Principal, kind: ResourceKind<C>, body: unknown, dryRun: boolean): Promise<WriteResponse> {
    const { input, alsoInTransaction } = this.withoutLayout(kind, asObject(body));
    // A caller who may not see the whole federation cannot choose ids: an id taken by an object outside their
    // sites would answer 409 and so reveal that object (#17 §5). Head office sees everything anyway.
    if (!caller.scope.headOffice && kind.create === 'head-office') throw new ForbiddenError('only head office may make this change');
    if (input['id'] !== undefined && !caller.scope.headOffice) {
      throw new InvalidInputError('invalid body', [{ path: 'id', message: 'ids are chosen by the server for callers with site grants: leave id out' }]);
    }
    const id = typeof input['id'] === 'string' ? input['id'] : `${kind.idPrefix}-${randomUUID()}`;
    const withSecrets: Record<string, unknown> = { ...input, id };
    for (const f of kind.generatedSecrets) if (withSecrets[f] === undefined) withSecrets[f] = generateCredential(f);
    const value = parseInput(kind.schema, withSecrets);
    const plan = (fed: Federation): FederationChange[] => {
      if (findObject(fed, kind.collection, id) !== undefined) throw new AlreadyExistsError(kind.objectType, id);
      this.authorize(caller.scope, kind.create, sitesOfObject(kind.collection, value));
      return [{ collection: kind.collection, op: 'upsert', value } as FederationChange];
    };
    return this.write(caller, kind, id, `${kind.objectType} ${id} created`, dryRun, plan, alsoInTransaction?.(id));
  }

  async update<C extends CollectionName>(caller: Principal, kind: ResourceKind<C>, id: string, body: unknown, dryRun: boolean): Promise<WriteResponse> {
    const { input, alsoInTransaction } = this.withoutLayout(kind, asObject(body));
    if (input['id'] !== undefined && input['id'] !== id) throw new InvalidInputError('invalid body', [{ path: 'id', message: `the body's id must be the path's (${id})` }]);
    const plan = (fed: Federation): FederationChange[] => {
      const existing = this.visible(caller.scope, kind, fed, id);
      // Credentials are write-only: an update that leaves them out keeps the stored ones.
      const merged: Record<string, unknown> = { ...input, id };
      for (const f of kind.secretFields) if (merged[f] === undefined && (existing as Record<string, unknown>)[f] !== undefined) merged[f] = (existing as Record<string, unknown>)[f];
      const value = parseInput(kind.schema, merged);
      this.authorize(caller.scope, kind.update, [...sitesOfObject(kind.collection, existing), ...sitesOfObject(kind.collection, value)]);
      if (!caller.scope.headOffice) {
        const changed = headOfficeChanges(kind, existing, value);
        if (changed.length > 0) throw new PropertyForbiddenError(changed);
      }
      return [{ collection: kind.collection, op: 'upsert', value } as FederationChange];
    };
    return this.write(caller, kind, id, `${kind.objectType} ${id} updated`, dryRun, plan, alsoInTransaction?.(id));
  }

  /**
   * A call flow written with node positions inside it (clients from before layouts left the snapshot): the
   * positions are taken out of the routing and stored as the flow's layout in the same transaction.
   */
  private withoutLayout<C extends CollectionName>(
    kind: ResourceKind<C>,
    body: Record<string, unknown>,
  ): { input: Record<string, unknown>; alsoInTransaction?: (id: string) => (m: EntityManager) => Promise<void> } {
    if (kind.collection !== 'callFlows') return { input: body };
    const { routing, positions } = splitFlowPositions(body);
    if (positions === undefined) return { input: routing };
    return { input: routing, alsoInTransaction: (id) => (m) => this.layouts.store(m, id, positions) };
  }

  async remove<C extends CollectionName>(caller: Principal, kind: ResourceKind<C>, id: string, dryRun: boolean): Promise<WriteResponse> {
    return this.write(caller, kind, id, `${kind.objectType} ${id} deleted`, dryRun, (fed) => {
      const existing = this.visible(caller.scope, kind, fed, id);
      this.authorize(caller.scope, kind.delete, sitesOfObject(kind.collection, existing));
      return [{ collection: kind.collection, op: 'delete', id } as FederationChange];
    });
  }

  /** Runs a planned write and shapes the answer; a refused write answers 409 with issues the caller may see. */
  private async write<C extends CollectionName>(
    caller: Principal,
    kind: ResourceKind<C>,
    id: string,
    reason: string,
    dryRun: boolean,
    plan: (fed: Federation) => readonly FederationChange[],
    alsoInTransaction?: (m: EntityManager) => Promise<void>,
  ): Promise<WriteResponse> {
    let outcome: WriteOutcome;
    try {
      outcome = await this.writer.write({ actor: actorName(caller), reason, dryRun, ...(alsoInTransaction !== undefined ? { alsoInTransaction } : {}) }, plan);
    } catch (e) {
      if (e instanceof ValidationConflictError) throw new ValidationConflictError(redactIssues(e.issues, caller.scope), redactIssues(e.warnings, caller.scope));
      throw e;
    }
    const after = findObject(outcome.federation, kind.collection, id);
    const changedSites = outcome.changedSites.map((s) => s.siteId).filter((s) => caller.scope.canRead(s));
    // "What changes" in what the sites keep when things fail, for the admin checking a change before making it.
    const survivability = dryRun && outcome.validation.ok ? await this.survivability.preview(caller, outcome.before, outcome.federation, changedSites) : undefined;
    return {
      dryRun,
      ...(after !== undefined ? { data: toResponse(kind, after) } : {}),
      validation: answeredValidation(outcome.validation, caller.scope),
      changedSites,
      revisions: outcome.revisions.filter((r) => caller.scope.canRead(r.siteId)),
      ...(survivability !== undefined ? { survivability } : {}),
    };
  }

  /** The object, if the caller can see it; 404 otherwise (whether or not it exists). */
  private visible<C extends CollectionName>(scope: Scope, kind: ResourceKind<C>, fed: Federation, id: string): ObjectOf<C> {
    const o = findObject(fed, kind.collection, id);
    if (o === undefined) throw new NotFoundError(kind.objectType, id);
    const sites = sitesOfObject(kind.collection, o);
    const readable = scope.headOffice || kind.collection === 'classesOfService' || (kind.collection === 'outboundRoutes' && sites.length === 0) || sites.some((s) => scope.canRead(s));
    if (!readable) throw new NotFoundError(kind.objectType, id);
    return o;
  }

  private authorize(scope: Scope, level: WriteLevel, sites: readonly string[]): void {
    if (scope.headOffice) return;
    // Refusing a head-office-only kind says nothing about any object, so it comes before the 404s.
    if (level === 'head-office') throw new ForbiddenError('only head office may make this change');
    for (const s of sites) if (!scope.canRead(s)) throw new NotFoundError('site', s);
    for (const s of sites) if (!scope.canWrite(s)) throw new ForbiddenError(`read-only access to site ${s}`);
    if (sites.length === 0) throw new ForbiddenError('only head office may make this change');
  }
}

function asObject(body: unknown): Record<string, unknown> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new InvalidInputError('invalid body', [{ path: '', message: 'a JSON object is expected' }]);
  return body as Record<string, unknown>;
}

/** What a grant lets its holder do. */
export const ROLES = ['head-office-admin', 'site-admin', 'viewer'] as const;
export type Role = (typeof ROLES)[number];

export interface Grant {
  readonly role: Role;
  /** null for head-office-admin (every site). */
  readonly siteId: string | null;
}

/**
 * The sites a caller may read and write, derived from their grants. Every query and every write takes one:
 * objects outside it do not exist for the caller (404).
 */
export class Scope {
  private constructor(
    readonly headOffice: boolean,
    private readonly readable: ReadonlySet<string>,
    private readonly writable: ReadonlySet<string>,
    /** A read-only API token: reads as its grants allow, writes nowhere (the auth guard also refuses its writes). */
    readonly readOnly = false,
  ) {}

  static of(grants: readonly Grant[], readOnly = false): Scope {
    const readable = new Set<string>();
    const writable = new Set<string>();
    let headOffice = false;
    for (const g of grants) {
      switch (g.role) {
        case 'head-office-admin':
          headOffice = true;
          break;
        case 'site-admin':
          if (g.siteId !== null) {
            readable.add(g.siteId);
            writable.add(g.siteId);
          }
          break;
        case 'viewer':
          if (g.siteId !== null) readable.add(g.siteId);
          break;
      }
    }
    return new Scope(headOffice, readable, writable, readOnly);
  }

  static readonly everything = new Scope(true, new Set(), new Set());

  canRead(siteId: string): boolean {
    return this.headOffice || this.readable.has(siteId);
  }

  canWrite(siteId: string): boolean {
    return !this.readOnly && (this.headOffice || this.writable.has(siteId));
  }

  /** Sites readable, or 'all' for head office. */
  readableSites(): readonly string[] | 'all' {
    return this.headOffice ? 'all' : [...this.readable];
  }

  /** Sites writable, or 'all' for head office (the console hides write controls elsewhere). */
  writableSites(): readonly string[] | 'all' {
    if (this.readOnly) return [];
    return this.headOffice ? 'all' : [...this.writable];
  }

  /** May write at least one site (site admin somewhere, or head office). */
  get writesAnywhere(): boolean {
    return !this.readOnly && (this.headOffice || this.writable.size > 0);
  }
}

/**
 * Whether `holder`'s grants include `g`: head office includes every grant, a site admin includes the site's
 * site-admin and viewer grants, a viewer the site's viewer grant. An API token may carry only included grants.
 */
export function grantIncluded(holder: readonly Grant[], g: Grant): boolean {
  return holder.some(
    (h) => h.role === 'head-office-admin' || (g.siteId !== null && h.siteId === g.siteId && (h.role === g.role || (h.role === 'site-admin' && g.role === 'viewer'))),
  );
}

/** The grants of `wanted` that `holder` still includes: an API token's rights shrink with its user's. */
export const narrowGrants = (holder: readonly Grant[], wanted: readonly Grant[]): Grant[] => wanted.filter((g) => grantIncluded(holder, g));

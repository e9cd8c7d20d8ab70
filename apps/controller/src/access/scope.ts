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
  ) {}

  static of(grants: readonly Grant[]): Scope {
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
    return new Scope(headOffice, readable, writable);
  }

  static readonly everything = new Scope(true, new Set(), new Set());

  canRead(siteId: string): boolean {
    return this.headOffice || this.readable.has(siteId);
  }

  canWrite(siteId: string): boolean {
    return this.headOffice || this.writable.has(siteId);
  }

  /** Sites readable, or 'all' for head office. */
  readableSites(): readonly string[] | 'all' {
    return this.headOffice ? 'all' : [...this.readable];
  }

  /** Sites writable, or 'all' for head office (the console hides write controls elsewhere). */
  writableSites(): readonly string[] | 'all' {
    return this.headOffice ? 'all' : [...this.writable];
  }

  /** May write at least one site (site admin somewhere, or head office). */
  get writesAnywhere(): boolean {
    return this.headOffice || this.writable.size > 0;
  }
}

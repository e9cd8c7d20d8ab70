import type { FederationIssue, FederationIssueCode, ObjectRef } from './federation-issues.js';

export type IssueSpan = { readonly from: string; readonly to: string };

/** Where a check writes what it finds, in the order it finds it. */
export class IssueList {
  readonly issues: FederationIssue[] = [];

  error(code: FederationIssueCode, message: string, objects: ObjectRef[], span?: IssueSpan): void {
    this.add(code, 'error', message, objects, span);
  }

  warning(code: FederationIssueCode, message: string, objects: ObjectRef[], span?: IssueSpan): void {
    this.add(code, 'warning', message, objects, span);
  }

  private add(code: FederationIssueCode, severity: 'error' | 'warning', message: string, objects: ObjectRef[], span: IssueSpan | undefined): void {
    this.issues.push(span === undefined ? { code, severity, message, objects } : { code, severity, message, objects, span });
  }
}

export const siteRef = (id: string): ObjectRef => ({ type: 'site', id });

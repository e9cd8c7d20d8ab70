import { describe, expect, it } from 'vitest';
import type { AgentCredentialRecord } from './agent-credential.repository.js';
import { alarmOf } from './agent-credentials.service.js';

const HOUR = 3600_000;
const at = (h: number): Date => new Date(Date.UTC(2026, 11, 6, 12) + h * HOUR);
const cred = (issuedH: number, lifetimeH: number, revokedH?: number): AgentCredentialRecord => ({
  userKey: `U${issuedH}`,
  siteId: 'moscow',
  origin: 'renewal',
  issuedAt: at(issuedH),
  expiresAt: at(issuedH + lifetimeH),
  revokedAt: revokedH === undefined ? null : at(revokedH),
  revokedBy: revokedH === undefined ? null : 'admin',
});

describe('the alarm of a site\'s agent credentials', () => {
  it('none before enrollment, none while renewals keep up', () => {
    expect(alarmOf([], at(0))).toBeUndefined();
    expect(alarmOf([cred(0, 72)], at(40))).toBeUndefined();
  });

  it('renewal overdue past three quarters of the lifetime, expired past all of it', () => {
    expect(alarmOf([cred(0, 72)], at(55))).toMatchObject({ code: 'agent-credentials-renewal-overdue', severity: 'warning' });
    expect(alarmOf([cred(0, 72)], at(73))).toMatchObject({ code: 'agent-credentials-expired', severity: 'critical', message: expect.stringMatching(/new token/) });
  });

  it('revoked and not re-enrolled; a re-enrollment after the revocation clears it', () => {
    expect(alarmOf([cred(10, 72, 20), cred(0, 72, 20)], at(21))).toMatchObject({ code: 'agent-credentials-revoked' });
    expect(alarmOf([cred(22, 72), cred(10, 72, 20)], at(23))).toBeUndefined();
  });
});

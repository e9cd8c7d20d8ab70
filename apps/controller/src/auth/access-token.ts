import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Short-lived access tokens: `fpa.<payload>.<mac>` with payload = base64url JSON {sub, sid, exp} and mac =
 * HMAC-SHA256(key, "fpa." + payload). The signature spares a lookup for forged tokens; the guard still checks that
 * the session `sid` is live (logout and revocation end it at once) and the user enabled.
 */
export class AccessTokenCodec {
  private readonly key: Buffer;

  constructor(
    secret: string | undefined,
    private readonly ttlSec: number,
    private readonly now: () => number = Date.now,
  ) {
    this.key = secret === undefined ? randomBytes(32) : Buffer.from(secret, 'utf8');
  }

  issue(userId: string, sessionId: string): { token: string; expiresAt: string } {
    const exp = Math.floor(this.now() / 1000) + this.ttlSec;
    const payload = Buffer.from(JSON.stringify({ sub: userId, sid: sessionId, exp })).toString('base64url');
    return { token: `fpa.${payload}.${this.mac(payload)}`, expiresAt: new Date(exp * 1000).toISOString() };
  }

  /** The user and session, or undefined for a forged, malformed or expired token. */
  verify(token: string): { userId: string; sessionId: string } | undefined {
    const [tag, payload, mac] = token.split('.');
    if (tag !== 'fpa' || payload === undefined || mac === undefined) return undefined;
    const expected = Buffer.from(this.mac(payload));
    const actual = Buffer.from(mac);
    if (actual.length !== expected.length || !timingSafeEqual(actual, expected)) return undefined;
    try {
      const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { sub?: unknown; sid?: unknown; exp?: unknown };
      if (typeof claims.sub !== 'string' || typeof claims.sid !== 'string' || typeof claims.exp !== 'number') return undefined;
      return claims.exp * 1000 > this.now() ? { userId: claims.sub, sessionId: claims.sid } : undefined;
    } catch {
      return undefined;
    }
  }

  private mac(payload: string): string {
    return createHmac('sha256', this.key).update(`fpa.${payload}`).digest('base64url');
  }
}

/**
 * Socket errors and PostgreSQL SQLSTATEs that mean the database is away (down, restarting, unreachable), not that
 * the request was wrong: the API answers them 503 at once instead of a 500 (or a hang), and the pool connects
 * again on the next request once the server is back. SQLSTATE classes from PostgreSQL's errcodes.txt: 08
 * connection exception, 57P01 admin_shutdown, 57P02 crash_shutdown, 57P03 cannot_connect_now (starting up or
 * shutting down), 53300 too_many_connections.
 */
const UNAVAILABLE_SOCKET = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN']);
const UNAVAILABLE_SQLSTATE = /^(08...|57P0[123]|53300)$/;
/** What node-postgres says when a socket dies under it or a connect times out (its errors carry no code then). */
const UNAVAILABLE_MESSAGE = /^(Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error)/;

export function isDatabaseUnavailable(error: unknown): boolean {
  for (let e: unknown = error, depth = 0; typeof e === 'object' && e !== null && depth < 4; depth++) {
    const { code, message } = e as { code?: unknown; message?: unknown };
    if (typeof code === 'string' && (UNAVAILABLE_SOCKET.has(code) || UNAVAILABLE_SQLSTATE.test(code))) return true;
    if (typeof message === 'string' && UNAVAILABLE_MESSAGE.test(message)) return true;
    // TypeORM wraps the driver's error (QueryFailedError.driverError); AggregateError carries one per address tried.
    const inner = e as { driverError?: unknown; cause?: unknown; errors?: unknown };
    if (Array.isArray(inner.errors) && inner.errors.some((x) => isDatabaseUnavailable(x))) return true;
    e = inner.driverError ?? inner.cause;
  }
  return false;
}

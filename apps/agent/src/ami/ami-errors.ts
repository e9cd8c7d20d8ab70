import { AsteriskProtocolError, type AmiMessage } from '@fedpbx/asterisk';

/**
 * Why an AMI action or the AMI connection failed. Every failure of ami-client.ts is one of these (or an
 * `AmiFormatError` from @fedpbx/asterisk for an action that would inject headers), never a bare string.
 */
export type AmiClientErrorCode =
  /** `action()` while no logged-in connection exists (the client reconnects on its own; retry later). */
  | 'NOT_CONNECTED'
  /** The connection dropped while the action was in flight: it may or may not have run. */
  | 'DISCONNECTED'
  /** No answer (or, for a list, no next item) within the action's timeout. */
  | 'TIMEOUT'
  /** Asterisk answered the Login with `Response: Error` (wrong user/secret, or a deny/permit ACL). */
  | 'LOGIN_FAILED'
  /** Asterisk answered `Response: Error` to the action; the response is attached. */
  | 'ACTION_FAILED'
  /** The client was stopped. */
  | 'STOPPED'
  /** The socket failed (refused, reset, ...); the cause is attached. The client reconnects. */
  | 'SOCKET_ERROR'
  /** A response that carries no ActionID of ours (e.g. `Failed to parse message: line too long`). */
  | 'UNMATCHED_RESPONSE'
  /** A list action produced more items than the client accepts. */
  | 'LIST_TOO_LARGE'
  /** What Asterisk sent broke the parser's limits (line, headers, message size) or had no banner: reconnect. */
  | 'STREAM_UNREADABLE';

export class AmiClientError extends AsteriskProtocolError<AmiClientErrorCode> {
  override readonly name = 'AmiClientError';
  /** The action concerned, if any (its name only: field values may be secret). */
  readonly action: string | undefined;
  /** Asterisk's answer, for ACTION_FAILED / LOGIN_FAILED / UNMATCHED_RESPONSE. */
  readonly response: AmiMessage | undefined;

  constructor(code: AmiClientErrorCode, message: string, extra: { action?: string; response?: AmiMessage; cause?: unknown } = {}) {
    super(code, message, extra.cause === undefined ? undefined : { cause: extra.cause });
    this.action = extra.action;
    this.response = extra.response;
  }
}

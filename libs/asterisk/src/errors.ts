import type { AgiResponse } from './agi/agi-response-parser.js';

/**
 * Typed errors of @fedpbx/asterisk. Every error thrown by this package is an instance of
 * {@link AsteriskProtocolError} with a string-literal `code`, so callers can map them with an
 * exhaustive switch instead of matching message text.
 */
export abstract class AsteriskProtocolError<C extends string = string> extends Error {
  abstract override readonly name: string;
  readonly code: C;

  protected constructor(code: C, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

/** Limits or syntax violated while parsing the FastAGI environment block. */
export type AgiEnvErrorCode =
  | 'ENV_LINE_TOO_LONG'
  | 'ENV_TOO_MANY_LINES'
  | 'ENV_TOO_LARGE'
  | 'ENV_MALFORMED_LINE'
  | 'ENV_DUPLICATE_KEY'
  | 'ENV_MISSING_FIELD'
  | 'ENV_ALREADY_COMPLETE';

export class AgiEnvError extends AsteriskProtocolError<AgiEnvErrorCode> {
  override readonly name = 'AgiEnvError';
  constructor(code: AgiEnvErrorCode, message: string) {
    super(code, message);
  }
}

/** Limits violated while parsing what Asterisk sends after the environment block. */
export type AgiResponseErrorCode = 'RESPONSE_LINE_TOO_LONG' | 'RESPONSE_BLOCK_TOO_LARGE';

export class AgiResponseParseError extends AsteriskProtocolError<AgiResponseErrorCode> {
  override readonly name = 'AgiResponseParseError';
  constructor(code: AgiResponseErrorCode, message: string) {
    super(code, message);
  }
}

/** A FastAGI command that must not be sent (it would be split, truncated or re-interpreted by res_agi.c). */
export type AgiCommandErrorCode = 'ARG_FORBIDDEN_CHAR' | 'BAD_VERB' | 'BAD_ARGUMENT' | 'COMMAND_TOO_LONG' | 'TOO_MANY_ARGS';

export class AgiCommandError extends AsteriskProtocolError<AgiCommandErrorCode> {
  override readonly name = 'AgiCommandError';
  constructor(code: AgiCommandErrorCode, message: string) {
    super(code, message);
  }
}

/** A value refused by an application-data builder (it could inject options or targets into an application). */
export type AgiAppDataErrorCode =
  | 'INVALID_DIAL_NUMBER'
  | 'INVALID_NAME'
  | 'INVALID_DIAL_TARGET'
  | 'INVALID_TIMEOUT'
  | 'INVALID_OPTION'
  | 'INVALID_FILENAME'
  | 'INVALID_APPLICATION';

export class AgiAppDataError extends AsteriskProtocolError<AgiAppDataErrorCode> {
  override readonly name = 'AgiAppDataError';
  constructor(code: AgiAppDataErrorCode, message: string) {
    super(code, message);
  }
}

/** Failures of a live {@link AgiSession}. */
export type AgiSessionErrorCode =
  | 'ENV_TIMEOUT'
  | 'COMMAND_TIMEOUT'
  | 'IDLE_TIMEOUT'
  | 'SOCKET_CLOSED'
  | 'SOCKET_ERROR'
  | 'PROTOCOL_ERROR'
  | 'INPUT_TOO_LARGE'
  | 'QUEUE_FULL'
  | 'SESSION_CLOSED';

export class AgiSessionError extends AsteriskProtocolError<AgiSessionErrorCode> {
  override readonly name = 'AgiSessionError';
  constructor(code: AgiSessionErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

/**
 * A helper that returns a value (GET VARIABLE, ...) got an answer that carries no value: 510, 520, 511 or
 * an unexpected result. The raw {@link response} is attached. (`AgiSession.command` never throws this:
 * it returns every final response, 5xx included.)
 */
export class AgiCommandRejectedError extends AsteriskProtocolError<'COMMAND_REJECTED'> {
  override readonly name = 'AgiCommandRejectedError';
  readonly response: AgiResponse;
  constructor(command: string, response: AgiResponse) {
    super('COMMAND_REJECTED', `${command} answered ${response.code}`);
    this.response = response;
  }
}

/** Limits or syntax violated while parsing AMI input. */
export type AmiParseErrorCode = 'AMI_BAD_BANNER' | 'AMI_LINE_TOO_LONG' | 'AMI_TOO_MANY_HEADERS' | 'AMI_MESSAGE_TOO_LARGE';

export class AmiParseError extends AsteriskProtocolError<AmiParseErrorCode> {
  override readonly name = 'AmiParseError';
  constructor(code: AmiParseErrorCode, message: string) {
    super(code, message);
  }
}

/** An AMI action that must not be sent (header injection, or over manager.c's limits). */
export type AmiFormatErrorCode =
  | 'AMI_FORBIDDEN_CHAR'
  | 'AMI_BAD_KEY'
  | 'AMI_RESERVED_KEY'
  | 'AMI_LINE_TOO_LONG'
  | 'AMI_TOO_MANY_HEADERS';

export class AmiFormatError extends AsteriskProtocolError<AmiFormatErrorCode> {
  override readonly name = 'AmiFormatError';
  constructor(code: AmiFormatErrorCode, message: string) {
    super(code, message);
  }
}

/**
 * Coded errors shared across layers. Each carries a stable `code` from one
 * vocabulary (`ErrorName`, what callers branch on) and, where it wraps
 * something, the original `cause`. Edges translate a code into their own terms
 * with one mapper each: `toGrpcStatus` (push API), `toHttp` (operations HTTP),
 * `toCloseCode` (QUIC application close, docs/protocol.md section 6). Nothing
 * reads a status out of an error's message text.
 */
import { status as GrpcStatus } from '@grpc/grpc-js';
import { CloseCode, ErrorCode } from './protocol/codes.js';

/** The ERROR payload codes of docs/protocol.md section 6, by name. */
export type ProtocolErrorName = keyof typeof ErrorCode;

/**
 * Why a session event store did not happen (or may not have happened):
 * - FENCED: the log refused the write because someone else wrote the session
 *   since (expected-last-sequence), or this node's serving lease may have lapsed.
 * - STORE_TIMEOUT: not confirmed within `nats.store_timeout`: whoever waits is
 *   answered now (UNAVAILABLE), while the store goes on (`later`).
 * - RECORD_TOO_LARGE: one event alone exceeds the log's message limit.
 * - LOG_CLOSED: the process is shutting down.
 */
export type StoreErrorCode = 'FENCED' | 'STORE_TIMEOUT' | 'RECORD_TOO_LARGE' | 'LOG_CLOSED';

/** Why the first connection to NATS failed. */
export type NatsConnectErrorCode = 'NATS_AUTH' | 'NATS_TLS' | 'NATS_CONNECT';

/** Every code a GateSvr error carries. */
export type ErrorName =
  | ProtocolErrorName
  /** Nothing was accepted; retry later or elsewhere (standby, event log unreachable). */
  | 'UNAVAILABLE'
  | 'PAYLOAD_TOO_LARGE'
  | StoreErrorCode
  | NatsConnectErrorCode
  /** A JetStream API error answer (`JetStreamApiError.errCode` says which). */
  | 'JETSTREAM_API'
  /** An error answer of the gateway's HTTP admin API to an admin tool (`AdminApiError.status`). */
  | 'ADMIN_API'
  /** A QUIC peer broke the framing or the message rules (close 0x01). */
  | 'PROTOCOL_ERROR'
  | 'FORBIDDEN'
  | 'NOT_FOUND'
  | 'METHOD_NOT_ALLOWED'
  | 'UNSUPPORTED_MEDIA_TYPE'
  | 'MISDIRECTED_REQUEST'
  | 'CROSS_SITE_REQUEST'
  | 'INSPECTOR_DISABLED'
  | 'AUTH_CONFIG'
  | 'CONNECTION_CLOSED'
  | 'INTERNAL';

/**
 * The base of every GateSvr error. `C` is a name of the vocabulary, except for
 * GateError, whose `code` stays the contract's numeric ERROR code (a public
 * client API); `errorName` gives any error's name.
 */
export class CodedError<C extends ErrorName | ErrorCode = ErrorName> extends Error {
  constructor(
    readonly code: C,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A typed protocol error: the contract's numeric code plus a human message and detail. */
export class GateError extends CodedError<ErrorCode> {
  constructor(
    code: ErrorCode,
    message: string,
    readonly detail = '',
    options?: { cause?: unknown },
  ) {
    super(code, message, options);
  }
}

export class StoreError extends CodedError<StoreErrorCode> {
  /**
   * STORE_TIMEOUT only: the store goes on being retried; this settles with its
   * final outcome (resolves once stored, rejects with the StoreError that ends it).
   */
  readonly later?: Promise<void>;
  constructor(code: StoreErrorCode, message: string, options?: { cause?: unknown; later?: Promise<void> }) {
    super(code, message, options);
    if (options?.later) {
      this.later = options.later;
      options.later.catch(() => {}); // observed by whoever waits on it; never an unhandled rejection
    }
  }
}

export function isStoreError(err: unknown, code?: StoreErrorCode): err is StoreError {
  return err instanceof StoreError && (code === undefined || err.code === code);
}

/** A JetStream API error as the server reported it (`err_code`, e.g. 10071 wrong last sequence). */
export class JetStreamApiError extends CodedError<'JETSTREAM_API'> {
  constructor(
    message: string,
    readonly errCode: number,
    readonly status: number,
    options?: { cause?: unknown },
  ) {
    super('JETSTREAM_API', message, options);
  }
}

/** JetStream err_code of "wrong last sequence" (Nats-Expected-Last-Subject-Sequence mismatch). */
export const JS_WRONG_LAST_SEQUENCE = 10071;

/**
 * This gateway cannot accept right now (it does not hold the serving lease, or
 * its event log cannot store): nothing was accepted; retry later or elsewhere.
 */
export class UnavailableError extends CodedError<'UNAVAILABLE'> {
  constructor(message: string, options?: { cause?: unknown }) {
    super('UNAVAILABLE', message, options);
  }
}

/** The first connection to NATS failed; `message` is one line and holds no credential. */
export class NatsConnectError extends CodedError<NatsConnectErrorCode> {}

/** A JetStream "no message found" answer (a subject with no stored message), as nats.js reports it. */
export function isNoMessageFound(err: unknown): boolean {
  return (err as { code?: string }).code === '404' || /no message found/i.test(messageOf(err));
}

/** An error's one-line text for a human (an answer's detail); logs take `{ err }` instead. */
export function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : `${e}`;
}

const PROTOCOL_NAMES = new Map<number, ProtocolErrorName>(
  Object.entries(ErrorCode).map(([name, code]) => [code, name as ProtocolErrorName]),
);

/** Any error's name in the vocabulary; INTERNAL for what is not a GateSvr error. */
export function errorName(err: unknown): ErrorName {
  if (err instanceof GateError) return PROTOCOL_NAMES.get(err.code) ?? 'INTERNAL';
  if (err instanceof CodedError) return err.code as ErrorName;
  return 'INTERNAL';
}

/**
 * The gRPC status a producer sees, as grpc-js maps its `Status` at its edges:
 * "try again" is UNAVAILABLE, so producers retry (docs/protocol.md, "Producer
 * answers when nothing can be stored"); anything unknown is INTERNAL.
 */
export function toGrpcStatus(err: unknown): { code: GrpcStatus; details: string } {
  return { code: grpcStatusOf(errorName(err)), details: messageOf(err) };
}

function grpcStatusOf(name: ErrorName): GrpcStatus {
  switch (name) {
    case 'UNAVAILABLE':
    case 'UPSTREAM_UNAVAILABLE':
    case 'FENCED':
    case 'STORE_TIMEOUT':
    case 'LOG_CLOSED':
      return GrpcStatus.UNAVAILABLE;
    case 'BAD_REQUEST':
    case 'PROTOCOL_ERROR':
      return GrpcStatus.INVALID_ARGUMENT;
    case 'UNAUTHENTICATED':
      return GrpcStatus.UNAUTHENTICATED;
    case 'FORBIDDEN':
    case 'NOT_LOGGED_IN':
      return GrpcStatus.PERMISSION_DENIED;
    case 'SESSION_NOT_FOUND':
    case 'NOT_FOUND':
      return GrpcStatus.NOT_FOUND;
    case 'DUPLICATE_REQUEST':
      return GrpcStatus.ALREADY_EXISTS;
    case 'OVERLOADED':
    case 'QUEUE_FULL':
    case 'FRAME_TOO_LARGE':
    case 'PAYLOAD_TOO_LARGE':
    case 'RECORD_TOO_LARGE':
      return GrpcStatus.RESOURCE_EXHAUSTED;
    case 'UPSTREAM_TIMEOUT':
      return GrpcStatus.DEADLINE_EXCEEDED;
    case 'METHOD_NOT_ALLOWED':
      return GrpcStatus.UNIMPLEMENTED;
    default:
      return GrpcStatus.INTERNAL;
  }
}

const HTTP_STATUS: Partial<Record<ErrorName, number>> = {
  BAD_REQUEST: 400,
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  CROSS_SITE_REQUEST: 403,
  NOT_LOGGED_IN: 403,
  NOT_FOUND: 404,
  SESSION_NOT_FOUND: 404,
  INSPECTOR_DISABLED: 404,
  METHOD_NOT_ALLOWED: 405,
  DUPLICATE_REQUEST: 409,
  FRAME_TOO_LARGE: 413,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  MISDIRECTED_REQUEST: 421,
  OVERLOADED: 429,
  UPSTREAM_ERROR: 502,
  UNAVAILABLE: 503,
  UPSTREAM_UNAVAILABLE: 503,
  UPSTREAM_TIMEOUT: 504,
};

/**
 * The operations HTTP answer: a status and the `error` field of the JSON body
 * (docs/operations.md: lower-case names; 401 says `unauthorized` as HTTP does).
 * Anything unknown is a 500 `internal` whose text is not shown.
 */
export function toHttp(err: unknown): { status: number; error: string; message: string } {
  const name = errorName(err);
  const status = HTTP_STATUS[name];
  if (status === undefined) return { status: 500, error: 'internal', message: 'internal error' };
  return {
    status,
    error: name === 'UNAUTHENTICATED' ? 'unauthorized' : name.toLowerCase(),
    message: messageOf(err),
  };
}

/** The QUIC application close code a connection ends with for `err` (docs/protocol.md section 6). */
export function toCloseCode(err: unknown): CloseCode {
  switch (errorName(err)) {
    case 'UNAUTHENTICATED':
    case 'NOT_LOGGED_IN':
      return CloseCode.UNAUTHENTICATED;
    case 'OVERLOADED':
      return CloseCode.OVERLOADED;
    case 'UNAVAILABLE':
    case 'LOG_CLOSED':
      return CloseCode.SERVER_SHUTDOWN;
    default:
      // Whatever a peer did that cannot be answered in-band breaks the protocol.
      return CloseCode.PROTOCOL_ERROR;
  }
}

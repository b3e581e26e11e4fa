/** Codes of docs/protocol.md section 6. */

export const ErrorCode = {
  BAD_REQUEST: 400,
  UNAUTHENTICATED: 401,
  NOT_LOGGED_IN: 403,
  SESSION_NOT_FOUND: 404,
  DUPLICATE_REQUEST: 409,
  FRAME_TOO_LARGE: 413,
  OVERLOADED: 429,
  UPSTREAM_ERROR: 502,
  UPSTREAM_UNAVAILABLE: 503,
  UPSTREAM_TIMEOUT: 504,
  QUEUE_FULL: 507,
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export const CloseCode = {
  NO_ERROR: 0,
  PROTOCOL_ERROR: 0x01,
  UNAUTHENTICATED: 0x02,
  OVERLOADED: 0x03,
  ACK_TIMEOUT: 0x10,
  SESSION_TAKEN_OVER: 0x11,
  SERVER_SHUTDOWN: 0x12,
} as const;
export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode];

export const RequestType = { UNKNOWN: 0, START: 1, STOP: 2, HEARTBEAT: 3, BUSINESS: 4, ACK: 5 } as const;
export type RequestType = (typeof RequestType)[keyof typeof RequestType];

export const PushType = {
  UNKNOWN: 0,
  START_RESP: 1,
  HEARTBEAT_RESP: 2,
  BUSINESS_DATA: 3,
  ERROR: 4,
  NOTIFY: 5,
} as const;
export type PushType = (typeof PushType)[keyof typeof PushType];

export const NotifySyncHint = { IMMEDIATELY: 0, BEFORE_RESPONSE: 1, AFTER_RESPONSE: 2 } as const;
export type NotifySyncHint = (typeof NotifySyncHint)[keyof typeof NotifySyncHint];

/** Producer-facing push error codes (UnicastPushResponse.error_code). */
export type PushErrorCode =
  | 'SESSION_NOT_FOUND'
  | 'QUEUE_FULL'
  | 'BAD_REQUEST'
  | 'PAYLOAD_TOO_LARGE'
  | 'UNAVAILABLE';

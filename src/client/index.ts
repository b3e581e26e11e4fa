/** The client-side API: the session SDK and the upstream push client. */

export { GateError } from '../errors.js';
export { CloseCode, ErrorCode, NotifySyncHint, PushType, RequestType } from '../protocol/codes.js';
export { Backoff, type BackoffOptions } from './backoff.js';
export {
  type Answer,
  ClientClosedError,
  type Delivered,
  GateClient,
  type GateClientOptions,
  type Notify,
  type ReconnectInfo,
} from './gate-client.js';
export { PushClient, type PushClientOptions } from './push-client.js';
export { DEFAULT_PUSH_WINDOW, PushStream, PushStreamError, type PushStreamOptions } from './push-stream.js';

/**
 * One GatewayService.PushStream call (docs/protocol.md section 8, "Streaming pushes"):
 * pushes arrive in stream order and go to the push API in that order, so pushes to one
 * session are accepted in stream order (the session actor queues them in call order).
 * Answers are written as each push completes, carrying its seq.
 *
 * Pipelining: the gateway reads ahead up to `maxInFlight` unanswered pushes, then stops
 * reading (HTTP/2 flow control holds the producer back) until half of them are answered.
 * Pushes read in one event-loop turn are handed over together, after that turn's reads,
 * so a session actor takes them as one PUSH batch.
 *
 * A push that fails is answered, not the stream: UNAVAILABLE for an unavailable store
 * or standby, INTERNAL for anything else. A cancelled stream stops answering; pushes
 * already handed over still complete (their answers are lost, not their acceptance).
 */
import * as grpc from '@grpc/grpc-js';
import { messageOf, toGrpcStatus } from '../../errors.js';
import type {
  StreamPushRequest,
  StreamPushResponse,
  UnicastPushRequest,
  UnicastPushResponse,
} from '../../protocol/messages.js';

/** Default read-ahead of one stream: unanswered pushes before the gateway stops reading. */
export const DEFAULT_STREAM_MAX_IN_FLIGHT = 4096;

export interface PushStreamOptions {
  maxInFlight?: number;
  /** A push failed with something other than "unavailable" (logged by the caller). */
  onError?: (err: unknown) => void;
}

type Push = (req: UnicastPushRequest) => Promise<UnicastPushResponse> | UnicastPushResponse;
type Call = grpc.ServerDuplexStream<StreamPushRequest, StreamPushResponse>;

/**
 * The answer to a push that threw or rejected: UNAVAILABLE where a unary call would fail
 * with that status (nothing accepted: retry), INTERNAL for anything else.
 */
export function failedPushResponse(err: unknown): UnicastPushResponse {
  const unavailable = toGrpcStatus(err).code === grpc.status.UNAVAILABLE;
  return { success: false, message: messageOf(err), errorCode: unavailable ? 'UNAVAILABLE' : 'INTERNAL' };
}

/** Serves `call` until the producer half-closes and every push is answered, or it cancels. */
export function servePushStream(call: Call, push: Push, opts: PushStreamOptions = {}): void {
  const maxInFlight = Math.max(1, opts.maxInFlight ?? DEFAULT_STREAM_MAX_IN_FLIGHT);
  const resumeBelow = Math.max(1, Math.floor(maxInFlight / 2));
  let inFlight = 0;
  let paused = false;
  let inputEnded = false;
  let finished = false;
  let turn: StreamPushRequest[] = [];

  const finish = (): void => {
    if (finished) return;
    finished = true;
    call.end();
  };

  const answer = (seq: number, r: UnicastPushResponse): void => {
    inFlight--;
    if (!finished) call.write({ seq, success: r.success, message: r.message, errorCode: r.errorCode });
    if (paused && inFlight < resumeBelow) {
      paused = false;
      call.resume();
    }
    if (inputEnded && inFlight === 0) finish();
  };

  const dispatch = (req: StreamPushRequest): void => {
    const seq = req.seq ?? 0;
    // An absent push decodes as null; answered like an empty unicast request (BAD_REQUEST).
    const body = (req.push as UnicastPushRequest | null | undefined) ?? ({} as UnicastPushRequest);
    let pending: Promise<UnicastPushResponse> | UnicastPushResponse;
    try {
      pending = push(body);
    } catch (err) {
      pending = Promise.reject(err);
    }
    Promise.resolve(pending).then(
      (r) => answer(seq, r),
      (err: unknown) => {
        const r = failedPushResponse(err);
        if (r.errorCode === 'INTERNAL') opts.onError?.(err);
        answer(seq, r);
      },
    );
  };

  const flushTurn = (): void => {
    const items = turn;
    turn = [];
    for (const req of items) dispatch(req);
    if (inputEnded && inFlight === 0) finish();
  };

  call.on('data', (req: StreamPushRequest) => {
    if (finished) return;
    if (turn.length === 0) setImmediate(flushTurn);
    turn.push(req);
    inFlight++;
    if (!paused && inFlight >= maxInFlight) {
      paused = true;
      call.pause();
    }
  });
  call.on('end', () => {
    inputEnded = true;
    if (turn.length === 0 && inFlight === 0) finish();
  });
  // The producer went away: nothing more can be answered; pushes handed over still complete.
  call.on('cancelled', () => {
    finished = true;
  });
}

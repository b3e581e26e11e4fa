/**
 * The producer side of GatewayService.PushStream (docs/protocol.md section 8, "Streaming
 * pushes"): each `push` gets the next seq and is written in call order, at most `window`
 * unanswered at a time (the rest wait here, in order); its promise settles with the
 * answer carrying that seq. The gateway accepts pushes to one session in the order they
 * were written.
 */
import type * as grpc from '@grpc/grpc-js';
import type {
  StreamPushRequest,
  StreamPushResponse,
  UnicastPushRequest,
  UnicastPushResponse,
} from '../protocol/messages.js';

export interface PushStreamOptions {
  /** Pushes written and not yet answered (default 256). */
  window?: number;
}

export const DEFAULT_PUSH_WINDOW = 256;

interface Waiter {
  resolve(res: UnicastPushResponse): void;
  reject(err: Error): void;
}

interface Queued {
  seq: number;
  req: Partial<UnicastPushRequest>;
  waiter: Waiter;
}

/** The stream failed or ended before a push was answered: the push may or may not have been accepted. */
export class PushStreamError extends Error {
  constructor(
    message: string,
    readonly code: number | undefined,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'PushStreamError';
  }
}

export class PushStream {
  private readonly window: number;
  private nextSeq = 1;
  /** Written, waiting for their answers. */
  private readonly unanswered = new Map<number, Waiter>();
  /** Not written yet (the window is full), in call order, from `head` on (no O(n) shift per write). */
  private queued: Array<Queued | undefined> = [];
  private head = 0;
  private closing = false;
  private ended = false;
  private failure: PushStreamError | null = null;
  private readonly done: Promise<void>;

  constructor(
    private readonly call: grpc.ClientDuplexStream<StreamPushRequest, StreamPushResponse>,
    options: PushStreamOptions = {},
  ) {
    this.window = Math.max(1, options.window ?? DEFAULT_PUSH_WINDOW);
    call.on('data', (res: StreamPushResponse) => this.onAnswer(res));
    this.done = new Promise((resolve) => {
      call.on('error', (err: grpc.ServiceError) => {
        this.fail(
          new PushStreamError(`push stream failed: ${err.details || err.message}`, err.code, { cause: err }),
        );
        resolve();
      });
      call.on('status', (status: grpc.StatusObject) => {
        // OK with pushes unanswered: the gateway ended the stream without answering them.
        this.fail(new PushStreamError('push stream ended before the push was answered', status.code));
        resolve();
      });
    });
  }

  /** Pushes waiting for an answer (written or queued). */
  get pending(): number {
    return this.unanswered.size + this.waiting();
  }

  push(req: Partial<UnicastPushRequest>): Promise<UnicastPushResponse> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.closing) return Promise.reject(new PushStreamError('push stream is closed', undefined));
    return new Promise((resolve, reject) => {
      const seq = this.nextSeq++;
      const waiter = { resolve, reject };
      if (this.unanswered.size < this.window && this.waiting() === 0) this.write(seq, req, waiter);
      else this.queued.push({ seq, req, waiter });
    });
  }

  /** No more pushes: resolves once every push written so far is answered and the stream has ended. */
  close(): Promise<void> {
    if (!this.closing) {
      this.closing = true;
      this.endWhenWritten();
    }
    return this.done;
  }

  /** Abandons the stream: unanswered pushes reject (each may or may not have been accepted). */
  cancel(): void {
    this.closing = true;
    this.call.cancel();
  }

  private write(seq: number, req: Partial<UnicastPushRequest>, waiter: Waiter): void {
    this.unanswered.set(seq, waiter);
    this.call.write({ seq, push: req as UnicastPushRequest });
  }

  private onAnswer(res: StreamPushResponse): void {
    const waiter = this.unanswered.get(res.seq);
    if (!waiter) return;
    this.unanswered.delete(res.seq);
    waiter.resolve({ success: res.success, message: res.message, errorCode: res.errorCode });
    while (this.waiting() > 0 && this.unanswered.size < this.window) {
      const next = this.dequeue();
      this.write(next.seq, next.req, next.waiter);
    }
    if (this.closing) this.endWhenWritten();
  }

  /** Half-closes once every queued push is written (the gateway then answers the rest and ends). */
  private endWhenWritten(): void {
    if (this.ended || this.waiting() > 0) return;
    this.ended = true;
    this.call.end();
  }

  private fail(err: PushStreamError): void {
    this.failure ??= err;
    for (const w of this.unanswered.values()) w.reject(this.failure);
    this.unanswered.clear();
    while (this.waiting() > 0) this.dequeue().waiter.reject(this.failure);
  }

  private waiting(): number {
    return this.queued.length - this.head;
  }

  private dequeue(): Queued {
    const next = this.queued[this.head]!;
    this.queued[this.head++] = undefined;
    if (this.head === this.queued.length) {
      this.queued = [];
      this.head = 0;
    } else if (this.head >= 1024 && this.head * 2 >= this.queued.length) {
      this.queued = this.queued.slice(this.head);
      this.head = 0;
    }
    return next;
  }
}

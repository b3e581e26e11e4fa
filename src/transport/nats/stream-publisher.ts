/**
 * A lean, pipelined JetStream publish (what nats.go calls PublishAsync): every
 * message is a core publish whose reply subject is a token under one inbox
 * subscription, and the stream's ack (or error) comes back there.
 *
 * Why not `js.publish`: per message it builds a request (stack trace, a timer,
 * a `NatsError` even on success, a race of promises) and JSON-parses the ack.
 * The event log publishes one message per session per turn, so that overhead is
 * paid thousands of times a second. Here: one map entry per message, one
 * interval for all timeouts, and a success ack is recognised by its prefix.
 *
 * A publish rejects on a stream error (e.g. no stream: 503 no responders) or
 * when no ack arrives within the timeout (the message may still have been
 * stored: retry with the same Nats-Msg-Id, the stream drops the duplicate).
 */
import { createInbox, type Msg, type MsgHdrs, type NatsConnection, type Subscription } from 'nats';
import { CodedError, JetStreamApiError, messageOf } from '../../errors.js';

interface Pending {
  resolve: (seq: number) => void;
  reject: (err: Error) => void;
  deadline: number;
}

const dec = new TextDecoder();
/** Acks settled per event-loop turn (see `drain`). */
const ACKS_PER_TURN = 8;
/** Every successful ack starts with this: {"stream":"<name>","seq":N[,"duplicate":true]}. */
const ACK_PREFIX = new TextEncoder().encode('{"stream":');

function isPubAck(data: Uint8Array): boolean {
  if (data.length < ACK_PREFIX.length) return false;
  for (let i = 0; i < ACK_PREFIX.length; i++) if (data[i] !== ACK_PREFIX[i]) return false;
  return true;
}

const SEQ_KEY = new TextEncoder().encode('"seq":');

/** The stream seq of a PubAck, read without parsing the JSON (0 if absent). */
export function pubAckSeq(data: Uint8Array): number {
  outer: for (let i = ACK_PREFIX.length; i + SEQ_KEY.length < data.length; i++) {
    for (let j = 0; j < SEQ_KEY.length; j++) if (data[i + j] !== SEQ_KEY[j]) continue outer;
    let n = 0;
    for (let k = i + SEQ_KEY.length; k < data.length; k++) {
      const c = data[k]!;
      if (c < 48 || c > 57) break;
      n = n * 10 + (c - 48);
    }
    return n;
  }
  return 0;
}

function ackError(m: Msg): Error {
  const status = m.headers?.code ?? 0;
  if (m.data.length === 0) {
    return new JetStreamApiError(
      status === 503 ? 'JetStream: no responders (503)' : `JetStream: status ${status || 'empty ack'}`,
      0,
      status,
    );
  }
  try {
    const raw = JSON.parse(dec.decode(m.data)) as {
      stream?: string;
      error?: { code?: number; err_code?: number; description?: string };
    };
    if (raw.error)
      return new JetStreamApiError(
        `JetStream: ${raw.error.description ?? 'error'} (${raw.error.code ?? '?'})`,
        raw.error.err_code ?? 0,
        raw.error.code ?? 0,
      );
    return new Error('JetStream: invalid ack');
  } catch {
    return new Error('JetStream: undecodable ack');
  }
}

export class StreamPublisher {
  private readonly inbox: string;
  private readonly sub: Subscription;
  private readonly pending = new Map<number, Pending>();
  private nextToken = 1;
  private readonly sweeper: NodeJS.Timeout;
  private closed = false;
  /** Acks received and not yet settled: pairs of (pending, error or stored seq), from `ackedAt`. */
  private acked: Array<Pending | Error | number> = [];
  private ackedAt = 0;
  private draining = false;

  constructor(
    private readonly nc: NatsConnection,
    private readonly timeoutMs: number,
  ) {
    this.inbox = `${createInbox()}.`;
    this.sub = nc.subscribe(`${this.inbox}*`, {
      callback: (err, m) => {
        if (!err) this.onAck(m);
      },
    });
    this.sweeper = setInterval(() => this.sweep(), Math.max(50, Math.min(1_000, timeoutMs / 4)));
    this.sweeper.unref();
  }

  /**
   * Store `data` on `subject`; resolves with the stream seq of the stored
   * message (a duplicate's original seq when the msg id was seen before).
   */
  publish(subject: string, data: Uint8Array, headers: MsgHdrs): Promise<number> {
    if (this.closed) return Promise.reject(new Error('publisher closed'));
    const token = this.nextToken++;
    return new Promise<number>((resolve, reject) => {
      try {
        this.nc.publish(subject, data, { reply: this.inbox + token, headers });
      } catch (err) {
        reject(err instanceof Error ? err : new CodedError('INTERNAL', messageOf(err), { cause: err }));
        return;
      }
      this.pending.set(token, { resolve, reject, deadline: performance.now() + this.timeoutMs });
    });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.sweeper);
    try {
      this.sub.unsubscribe();
    } catch {
      // connection already closed
    }
    const err = new Error('publisher closed');
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }

  private onAck(m: Msg): void {
    const token = Number(m.subject.slice(this.inbox.length));
    const p = this.pending.get(token);
    if (!p) return; // timed out already
    this.pending.delete(token);
    this.acked.push(p, isPubAck(m.data) ? pubAckSeq(m.data) : ackError(m));
    if (!this.draining) {
      this.draining = true;
      setImmediate(this.drain);
    }
  }

  /**
   * Settle acks at most ACKS_PER_TURN per event-loop turn. One socket read can
   * hold thousands of acks, and each one releases a session's frames and
   * producer answers; settled all at once they make one long turn, and the
   * QUIC socket (Node reads at most 32 datagrams per socket per turn) falls
   * behind and the kernel drops the clients' packets (their ACKs stall behind
   * retransmissions). In small slices every turn polls the socket again:
   * bench push-jetstream, 1000 sessions: 128 per turn ~15k UDP drops/s, 32 ~11k,
   * 8 none.
   */
  private readonly drain = (): void => {
    const list = this.acked;
    const end = Math.min(list.length, this.ackedAt + ACKS_PER_TURN * 2);
    let i = this.ackedAt;
    for (; i < end; i += 2) {
      const p = list[i] as Pending;
      const r = list[i + 1] as Error | number;
      if (typeof r === 'number') p.resolve(r);
      else p.reject(r);
    }
    if (i < list.length) {
      this.ackedAt = i;
      setImmediate(this.drain);
    } else {
      this.acked = [];
      this.ackedAt = 0;
      this.draining = false;
    }
  };

  /** Fail what waited too long (tokens are in publish order, so the oldest come first). */
  private sweep(): void {
    const now = performance.now();
    for (const [token, p] of this.pending) {
      if (p.deadline > now) break;
      this.pending.delete(token);
      p.reject(new Error('JetStream publish timeout'));
    }
  }
}

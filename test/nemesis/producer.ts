/**
 * A nemesis producer: pushes to one openid over the gRPC GatewayService, one push
 * at a time, each with its own `push_id` (UnicastPushRequest field 10, docs/protocol.md
 * v1.1), retrying the same `push_id` until it is accepted: after a timeout (the
 * outcome is unknown), a gRPC failure, or an answer "nothing accepted"
 * (UNAVAILABLE, QUEUE_FULL, …), moving to the other gateway on UNAVAILABLE and
 * failures.
 */
import { PushClient } from '../../src/client/push-client.js';
import type { UnicastPushRequest } from '../../src/protocol/messages.js';
import type { Outcome, ProducerOp } from './checker.js';

export interface PushAnswer {
  kind: 'accepted' | 'refused' | 'unknown';
  errorCode?: string;
  message: string;
  seq?: number;
}

/** One gRPC channel to one gateway, calls with a deadline. */
export class PushChannel {
  private readonly client: PushClient;
  constructor(
    readonly target: string,
    deadlineMs: number,
  ) {
    this.client = new PushClient(target, deadlineMs, {
      'grpc.initial_reconnect_backoff_ms': 100,
      'grpc.max_reconnect_backoff_ms': 500,
      'grpc.min_reconnect_backoff_ms': 100,
    });
  }

  push(req: Partial<UnicastPushRequest>, pushId: string): Promise<PushAnswer> {
    return this.client.push({ ...req, pushId }).then(
      (res): PushAnswer => {
        if (!res.success) return { kind: 'refused', errorCode: res.errorCode, message: res.message };
        const m = /seq (\d+)/.exec(res.message);
        return { kind: 'accepted', message: res.message, ...(m ? { seq: Number(m[1]) } : {}) };
      },
      (err: { code?: number; details?: string }): PushAnswer => ({
        kind: 'unknown',
        message: `grpc ${err?.code ?? '?'} ${err?.details ?? 'no answer'}`,
      }),
    );
  }

  close(): void {
    this.client.close();
  }
}

export interface Attempt {
  at: number;
  ms: number;
  target: string;
  result: string;
}

export interface ProducerOptions {
  id: string;
  openid: string;
  channels: PushChannel[];
  /** Pause between two pushes. */
  intervalMs: number;
  /** Pause before a retry. */
  retryDelayMs?: number;
  now?: () => number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class Producer {
  readonly ops: ProducerOp[] = [];
  readonly acceptedAt: number[] = [];
  readonly traces = new Map<string, Attempt[]>();
  attempts = 0;
  /** Attempts that ended without an answer (deadline, gRPC failure). */
  unknownAttempts = 0;
  private target = 0;
  /** Stop starting new pushes. */
  private stopNew = false;
  /** Give up the push in progress (after its current attempt). */
  private giveUp = false;
  private done: Promise<void> | null = null;

  constructor(private readonly o: ProducerOptions) {}

  start(): void {
    this.done ??= this.loop();
  }

  /** Finish the push in progress (retrying it until `giveUpAfterMs`), start none. */
  async stop(giveUpAfterMs = 20_000): Promise<void> {
    this.stopNew = true;
    const t = setTimeout(() => {
      this.giveUp = true;
    }, giveUpAfterMs);
    await this.done;
    clearTimeout(t);
  }

  /** Stop at once (the push in progress is left as it is). */
  abort(): void {
    this.stopNew = true;
    this.giveUp = true;
  }

  private async loop(): Promise<void> {
    for (let index = 0; !this.stopNew; index++) {
      await this.one(index);
      if (!this.stopNew) await sleep(this.o.intervalMs);
    }
  }

  private async one(index: number): Promise<void> {
    const pushId = `${this.o.id}-${index}`;
    const trace: Attempt[] = [];
    this.traces.set(pushId, trace);
    const op: ProducerOp = { producer: this.o.id, index, pushId, outcome: 'refused', attempts: 0 };
    this.ops.push(op);
    let anyUnknown = false;
    for (;;) {
      const ch = this.o.channels[this.target % this.o.channels.length]!;
      const at = Date.now();
      op.attempts = (op.attempts ?? 0) + 1;
      this.attempts++;
      const a = await ch.push(
        {
          targetType: 'openid',
          targetId: this.o.openid,
          msgType: 'nemesis',
          title: this.o.id,
          content: pushId,
          metadata: { producer: this.o.id, index: String(index) },
        },
        pushId,
      );
      trace.push({
        at,
        ms: Date.now() - at,
        target: ch.target,
        result: a.kind === 'refused' ? `refused ${a.errorCode}: ${a.message}` : `${a.kind} ${a.message}`,
      });
      if (a.kind === 'accepted') {
        op.outcome = 'accepted';
        if (a.seq !== undefined) op.seq = a.seq;
        this.acceptedAt.push(Date.now());
        return;
      }
      if (a.kind === 'unknown') {
        anyUnknown = true;
        this.unknownAttempts++;
      }
      op.outcome = (anyUnknown ? 'unknown' : 'refused') as Outcome;
      // The other gateway may be the one serving now.
      if (a.kind === 'unknown' || a.errorCode === 'UNAVAILABLE') this.target++;
      if (this.giveUp) return;
      await sleep(this.o.retryDelayMs ?? 100);
      if (this.giveUp) return;
    }
  }
}

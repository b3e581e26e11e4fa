/**
 * The seed's async processor (5.4) as a bounded concurrency limiter in front of the
 * upstream pool: at most `maxConcurrent` calls in flight, then a FIFO queue of at most
 * `maxQueue` waiting calls; a full queue refuses at once (429 OVERLOADED) and a queued
 * call whose deadline passes before it starts fails with 504 UPSTREAM_TIMEOUT. The
 * deadline covers the queue wait: a call started late gets only the time left.
 *
 * `FifoLimiter` holds the queue logic; it is pure (no timers, time passed in).
 */

import { GateError } from '../../errors.js';
import { ErrorCode } from '../../protocol/codes.js';
import type { UpstreamRequest, UpstreamResponse } from '../../protocol/messages.js';
import type { UpstreamPool } from './upstream-pool.js';

/** Something waiting in the queue; `deadline` is an absolute time on the caller's clock. */
export interface Deadlined {
  readonly deadline: number;
}

/**
 * Concurrency slots plus a bounded FIFO ring of waiting tasks. Invariant: the queue is
 * non-empty only while every slot is taken.
 */
export class FifoLimiter<T extends Deadlined> {
  private readonly ring: Array<T | undefined>;
  private head = 0;
  private size = 0;
  inflight = 0;
  rejected = 0;
  expired = 0;
  completed = 0;

  constructor(
    readonly maxConcurrent: number,
    readonly maxQueue: number,
  ) {
    if (!(maxConcurrent >= 1)) throw new RangeError('maxConcurrent must be >= 1');
    if (!(maxQueue >= 0)) throw new RangeError('maxQueue must be >= 0');
    this.ring = new Array<T | undefined>(maxQueue);
  }

  get queued(): number {
    return this.size;
  }

  /** Takes a slot if one is free (the caller then runs the task now). */
  tryStart(): boolean {
    if (this.inflight >= this.maxConcurrent) return false;
    this.inflight++;
    return true;
  }

  /** Queues a task that could not start; false (and counted as rejected) when full. */
  enqueue(task: T): boolean {
    if (this.size >= this.maxQueue) {
      this.rejected++;
      return false;
    }
    this.ring[(this.head + this.size) % this.maxQueue] = task;
    this.size++;
    return true;
  }

  /**
   * A running task finished: frees its slot, drops queued tasks already past their
   * deadline (given to `onExpired`) and returns the next task to run now, whose slot is
   * already taken, or undefined.
   */
  finish(now: number, onExpired: (task: T) => void): T | undefined {
    this.inflight--;
    this.completed++;
    while (this.size > 0) {
      const task = this.shift();
      if (task.deadline <= now) {
        this.expired++;
        onExpired(task);
        continue;
      }
      this.inflight++;
      return task;
    }
    return undefined;
  }

  /**
   * Removes every queued task whose deadline is <= now (given to `onExpired`, in queue
   * order), keeping the others in order. Returns the earliest remaining deadline, or
   * Infinity with an empty queue.
   */
  sweep(now: number, onExpired: (task: T) => void): number {
    let earliest = Number.POSITIVE_INFINITY;
    const n = this.size;
    let kept = 0;
    for (let i = 0; i < n; i++) {
      const from = (this.head + i) % this.maxQueue;
      const task = this.ring[from]!;
      this.ring[from] = undefined;
      if (task.deadline <= now) {
        this.expired++;
        onExpired(task);
        continue;
      }
      if (task.deadline < earliest) earliest = task.deadline;
      this.ring[(this.head + kept) % this.maxQueue] = task;
      kept++;
    }
    this.size = kept;
    return earliest;
  }

  /** Empties the queue (e.g. at shutdown), oldest first. */
  drain(onDrop: (task: T) => void): void {
    while (this.size > 0) onDrop(this.shift());
  }

  private shift(): T {
    const task = this.ring[this.head]!;
    this.ring[this.head] = undefined;
    this.head = (this.head + 1) % this.maxQueue;
    this.size--;
    return task;
  }
}

export interface AsyncProcessorStats {
  inflight: number;
  queued: number;
  /** Refused because the queue was full. */
  rejected: number;
  /** Calls that ran to an end (success or failure). */
  completed: number;
  /** Queued calls whose deadline passed before they started. */
  expired: number;
}

export interface AsyncProcessorOptions {
  maxConcurrent: number;
  maxQueue: number;
  /** Queue length at which `onWarning` fires (default 80% of maxQueue). */
  warningThreshold?: number;
  /** Called once each time the queue length rises to the threshold. */
  onWarning?: (stats: AsyncProcessorStats) => void;
  /** Clock in ms (default Date.now). */
  now?: () => number;
}

export interface AsyncProcessor {
  /** Runs pool.call under the limits; rejects with GateError 429 / 504 / pool errors. */
  submit(service: string, req: UpstreamRequest, timeoutMs: number): Promise<UpstreamResponse>;
  stats(): AsyncProcessorStats;
  /** Fails every queued call with 503 and refuses new ones; running calls go on. */
  close(): void;
}

interface Task extends Deadlined {
  readonly service: string;
  readonly req: UpstreamRequest;
  resolve(res: UpstreamResponse): void;
  reject(err: unknown): void;
}

function rejectExpired(task: Task): void {
  task.reject(
    new GateError(ErrorCode.UPSTREAM_TIMEOUT, 'upstream timeout', `${task.service}: expired in queue`),
  );
}

export function createAsyncProcessor(pool: UpstreamPool, opts: AsyncProcessorOptions): AsyncProcessor {
  const limiter = new FifoLimiter<Task>(opts.maxConcurrent, opts.maxQueue);
  const now = opts.now ?? Date.now;
  const threshold = Math.max(1, opts.warningThreshold ?? Math.ceil(opts.maxQueue * 0.8));
  let warned = false;
  let closed = false;
  let timer: NodeJS.Timeout | undefined;
  let timerAt = Number.POSITIVE_INFINITY;

  const release = (): void => {
    const next = limiter.finish(now(), rejectExpired);
    if (next !== undefined) {
      start(next.service, next.req, next.deadline - now()).then(next.resolve, next.reject);
    }
    if (limiter.queued < threshold) warned = false;
    if (limiter.queued === 0) disarm();
  };

  function start(service: string, req: UpstreamRequest, timeoutMs: number): Promise<UpstreamResponse> {
    let p: Promise<UpstreamResponse>;
    try {
      p = pool.call(service, req, timeoutMs);
    } catch (err) {
      p = Promise.reject(err);
    }
    p.then(release, release);
    return p;
  }

  function disarm(): void {
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
    timerAt = Number.POSITIVE_INFINITY;
  }

  /** One timer for the earliest queued deadline. */
  function arm(at: number): void {
    if (at >= timerAt) return;
    disarm();
    if (at === Number.POSITIVE_INFINITY) return;
    timerAt = at;
    // Not unref'd: it only exists while calls wait, and they must get their answer.
    timer = setTimeout(onTimer, Math.max(0, at - now()));
  }

  function onTimer(): void {
    timer = undefined;
    timerAt = Number.POSITIVE_INFINITY;
    arm(limiter.sweep(now(), rejectExpired));
    if (limiter.queued < threshold) warned = false;
  }

  function stats(): AsyncProcessorStats {
    return {
      inflight: limiter.inflight,
      queued: limiter.queued,
      rejected: limiter.rejected,
      completed: limiter.completed,
      expired: limiter.expired,
    };
  }

  return {
    submit(service, req, timeoutMs) {
      if (closed) {
        return Promise.reject(
          new GateError(ErrorCode.UPSTREAM_UNAVAILABLE, 'upstream processor closed', service),
        );
      }
      if (!(timeoutMs > 0)) {
        return Promise.reject(new GateError(ErrorCode.UPSTREAM_TIMEOUT, 'upstream timeout', service));
      }
      if (limiter.tryStart()) return start(service, req, timeoutMs);
      const deadline = now() + timeoutMs;
      return new Promise<UpstreamResponse>((resolve, reject) => {
        if (!limiter.enqueue({ service, req, deadline, resolve, reject })) {
          reject(new GateError(ErrorCode.OVERLOADED, 'overloaded: upstream queue full', service));
          return;
        }
        arm(deadline);
        if (!warned && limiter.queued >= threshold) {
          warned = true;
          try {
            opts.onWarning?.(stats());
          } catch {
            // A monitoring hook never fails the call.
          }
        }
      });
    },
    stats,
    close() {
      if (closed) return;
      closed = true;
      disarm();
      limiter.drain((task) =>
        task.reject(new GateError(ErrorCode.UPSTREAM_UNAVAILABLE, 'upstream processor closed', task.service)),
      );
    },
  };
}

/**
 * Notify binding (docs/protocol.md section 5, "Notify ordering"). Pure.
 *
 * A notify bound BEFORE/AFTER the answer to client seq `s` waits here while `s`
 * is in flight. When the answer comes, BEFORE notifies go right before it and
 * AFTER notifies right after it; when the request fails they go at once in
 * arrival order. Notifies for a seq that is not in flight are not held at all.
 */
import { NotifySyncHint } from '../protocol/codes.js';
import { notifyFrameBytes } from '../protocol/frames.js';

export interface BoundNotify {
  readonly hint: NotifySyncHint;
  /** Encoded NotifyMessage payload. */
  readonly payload: Uint8Array;
  /** Producer's push id, so the seq it gets on release is remembered for de-duplication. */
  readonly pid?: string;
}

export interface Release {
  before: BoundNotify[];
  after: BoundNotify[];
}

export class NotifyBinder {
  private readonly held = new Map<number, BoundNotify[]>();
  private _count = 0;
  private _bytes = 0;

  /** Notifies held for in-flight requests (they count against max_queue). */
  get count(): number {
    return this._count;
  }

  /** Bytes of the NOTIFY frames the held notifies will become (they count against max_queue_bytes). */
  get bytes(): number {
    return this._bytes;
  }

  /** Hold a notify for `clientSeq`; the caller checked it is in flight. */
  hold(clientSeq: number, notify: BoundNotify): void {
    let list = this.held.get(clientSeq);
    if (!list) {
      list = [];
      this.held.set(clientSeq, list);
    }
    list.push(notify);
    this._count++;
    this._bytes += notifyFrameBytes(notify.payload.length);
  }

  heldFor(clientSeq: number): readonly BoundNotify[] {
    return this.held.get(clientSeq) ?? [];
  }

  /** The answer to `clientSeq` is going out: split its notifies around it. */
  releaseAroundAnswer(clientSeq: number): Release {
    const list = this.take(clientSeq);
    const out: Release = { before: [], after: [] };
    for (const n of list) {
      (n.hint === NotifySyncHint.BEFORE_RESPONSE ? out.before : out.after).push(n);
    }
    return out;
  }

  /** The request failed: every notify, in arrival order. */
  releaseInOrder(clientSeq: number): BoundNotify[] {
    return this.take(clientSeq);
  }

  /** Client seqs with held notifies, ascending. */
  seqs(): number[] {
    return [...this.held.keys()].sort((a, b) => a - b);
  }

  private take(clientSeq: number): BoundNotify[] {
    const list = this.held.get(clientSeq);
    if (!list) return [];
    this.held.delete(clientSeq);
    this._count -= list.length;
    for (const n of list) this._bytes -= notifyFrameBytes(n.payload.length);
    return list;
  }
}

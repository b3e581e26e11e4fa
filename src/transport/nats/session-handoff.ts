/**
 * Moving a session between active nodes. The node a START lands on claims the
 * openid: the holder (from the directory) releases it, closing its link with
 * 0x11, and the claimer rebuilds it from the event log. Pushes must be applied
 * exactly once across the move: the holder applies every push up to the stream
 * position it reports, the claimer every push after it.
 */
import type { Msg, Subscription } from 'nats';
import { prepareAdoption, SessionFold } from '../../actors/failover.js';
import type { SessionState } from '../../machines/session-state.js';
import { CloseCode, ErrorCode } from '../../protocol/codes.js';
import type { ClusterNode } from './cluster-node.js';
import { decodeEventRecord } from './event-codec.js';
import { loadSessionRecords } from './ha.js';

const enc = new TextEncoder();
const RELEASE_TIMEOUT_MS = 3_000;
/** How long the push-ownership notes of a moved session are kept (well past any redelivery of its pushes). */
const MOVE_MEMORY_MS = 10 * 60_000;

/** The push consumer's side of a hand-off. */
export interface HeldPushes {
  /** Until this node has dispatched every push stored before the call. */
  barrier(timeoutMs: number): Promise<void>;
  /** Last push seq this node applies for the openid: the one before any it holds back, else all dispatched. */
  handOffSeq(openid: string): number;
  /** Dispatch the pushes held back for the openid while it moved. */
  drainHeld(openid: string): void;
}

export class SessionHandoff {
  private pushes: HeldPushes | null = null;
  private readonly claiming = new Map<string, Promise<void>>();
  private readonly releasing = new Set<string>();
  /** openid -> last push seq the previous holder applied (and when that was noted). */
  private readonly skipThrough = new Map<string, { seq: number; at: number }>();
  /** openids handed to another node (and when): their pushes are that node's now. */
  private readonly released = new Map<string, number>();
  private pruneTimer: NodeJS.Timeout | null = null;

  constructor(private readonly node: ClusterNode) {}

  /** Drop move notes older than MOVE_MEMORY_MS (they only matter while pushes may still be redelivered). */
  prune(now = Date.now()): void {
    for (const [k, v] of this.skipThrough) if (now - v.at > MOVE_MEMORY_MS) this.skipThrough.delete(k);
    for (const [k, at] of this.released) if (now - at > MOVE_MEMORY_MS) this.released.delete(k);
  }

  /** This node stopped serving: nothing it noted about moves matters to the next holder. */
  reset(): void {
    this.skipThrough.clear();
    this.released.clear();
  }

  /** Entries kept (tests, stats). */
  get tracked(): number {
    return this.skipThrough.size + this.released.size;
  }

  /** Bound after construction: the push consumer itself asks this hand-off who owns a push. */
  bindPushes(pushes: HeldPushes): void {
    this.pushes = pushes;
  }

  /** Answer other nodes claiming one of our sessions. */
  listen(): Subscription {
    const { nc, names, nodeId } = this.node;
    this.pruneTimer ??= setInterval(() => this.prune(), 60_000);
    this.pruneTimer.unref();
    return nc.subscribe(names.nodeRelease(nodeId), { callback: (_e, m) => void this.onRelease(m) });
  }

  /** Pushes for the openid wait: its holder is changing. */
  moving(openid: string): boolean {
    return this.claiming.has(openid) || this.releasing.has(openid);
  }

  /** The push at `seq` was (or will be) applied by another node. */
  appliedElsewhere(openid: string, seq: number): boolean {
    return (this.skipThrough.get(openid)?.seq ?? 0) >= seq || this.released.has(openid);
  }

  /** A session for the openid was created here: its pushes are ours again. */
  reclaimed(openid: string): void {
    this.released.delete(openid);
  }

  /**
   * Make the openid's session (if any) live here: another node holding it hands
   * it over; one of ours that is not loaded (this node restarted, or its copy
   * was dropped after a failed store) is rebuilt from the log. Rejects when
   * that cannot be done (NATS unreachable, log unreadable): the caller must
   * then refuse the START (503) rather than create a second session.
   *
   * A holder that does not answer is not waited for: the session is rebuilt
   * from the log anyway, which is safe because every write is fenced on the
   * subject's last seq: if the old holder writes after the rebuild read the
   * log, one of the two writes is refused and that node drops its copy.
   */
  claim(openid: string): Promise<void> {
    const local = this.node.system?.findByOpenid(openid);
    if (local && !local.isEnded) return Promise.resolve();
    const running = this.claiming.get(openid);
    if (running) return running;
    const p = this.doClaim(openid)
      .catch((err: unknown) => {
        this.node.logger.warn({ openid, err }, 'session claim failed');
        throw err;
      })
      .finally(() => {
        this.claiming.delete(openid);
        this.pushes?.drainHeld(openid);
      });
    this.claiming.set(openid, p);
    return p;
  }

  private async doClaim(openid: string): Promise<void> {
    const { directory, nodeId, logger } = this.node;
    const entry = await directory.fetch(openid);
    if (!entry) return;
    let pushSeq = 0;
    if (entry.node !== nodeId) {
      try {
        const r = await this.node.nc.request(
          this.node.names.nodeRelease(entry.node),
          enc.encode(JSON.stringify({ openid })),
          {
            timeout: RELEASE_TIMEOUT_MS,
          },
        );
        pushSeq = (JSON.parse(r.string()) as { pushSeq?: number }).pushSeq ?? 0;
      } catch (err) {
        logger.warn({ openid, node: entry.node, err }, 'holder did not hand over; rebuilding from the log');
      }
    }
    if (this.node.system?.findByOpenid(openid)) return;
    const loaded = await this.loadState(entry.sessionId);
    if (!loaded.state || !this.adopt(loaded.state, loaded.lastSeq)) {
      if (entry.node === nodeId) void directory.remove(openid, entry).catch(() => {});
      return;
    }
    if (pushSeq > 0) this.skipThrough.set(openid, { seq: pushSeq, at: Date.now() });
    // Confirmed only once the directory says so: other nodes route this openid's pushes by it.
    await directory.put(openid, { node: nodeId, sessionId: entry.sessionId });
    logger.info({ openid, sessionId: entry.sessionId, from: entry.node, pushSeq }, 'session moved here');
  }

  /** A session rebuilt from every stored record (throws rather than return a partial state). */
  async loadState(sessionId: string): Promise<{ state: SessionState | undefined; lastSeq: number }> {
    const { cfg, js, jsm, names } = this.node;
    const fold = new SessionFold(cfg.server.maxQueue);
    const { records, lastSeq } = await loadSessionRecords(js, jsm, names, sessionId);
    for (const data of records) fold.apply(sessionId, decodeEventRecord(data));
    if (fold.broken.has(sessionId)) throw new Error(`session ${sessionId}: stored records do not replay`);
    return { state: fold.get(sessionId), lastSeq };
  }

  /**
   * Run a session rebuilt from the log here (detached; orphaned requests
   * answered 503). Its first write is fenced on `lastSeq`, the stream seq of
   * the last record it was rebuilt from (-1: look it up first).
   */
  adopt(state: SessionState, lastSeq: number): boolean {
    const system = this.node.system;
    if (!system) return false;
    const a = prepareAdoption(state, Date.now(), this.node.cfg.server.resumeWindowMs);
    if (!a) return false;
    this.released.delete(state.openid);
    this.node.log.adopt(state.sessionId, lastSeq);
    const actor = system.restore(state);
    for (const clientSeq of a.orphanedRequests) {
      actor.send({
        type: 'UPSTREAM_FAILED',
        clientSeq,
        code: ErrorCode.UPSTREAM_UNAVAILABLE,
        message: 'upstream unavailable',
        detail: 'the gateway that forwarded this request is gone; its answer was lost',
      });
    }
    actor.send({ type: 'TICK' }); // arms the session's timers
    return true;
  }

  /** Another node takes one of our sessions over. */
  private async onRelease(m: Msg): Promise<void> {
    const { log } = this.node;
    let openid = '';
    try {
      openid = (JSON.parse(m.string()) as { openid: string }).openid;
      const system = this.node.system;
      if (!system?.findByOpenid(openid)) {
        m.respond(enc.encode(JSON.stringify({ sessionId: null, pushSeq: 0 })));
        return;
      }
      const pushes = this.pushes!;
      // 1. apply every push stored so far (the new holder skipped them), 2. hold later ones back.
      await pushes.barrier(2_000);
      this.releasing.add(openid);
      const sessionId = await system.handOff(openid, CloseCode.SESSION_TAKEN_OVER);
      const pushSeq = pushes.handOffSeq(openid);
      if (sessionId) {
        // Its ACKs and attach/detach events are stored without the actor waiting: store them before it moves.
        await log.settled(sessionId);
        log.release(sessionId);
      }
      this.released.set(openid, Date.now());
      this.releasing.delete(openid);
      pushes.drainHeld(openid);
      m.respond(enc.encode(JSON.stringify({ sessionId, pushSeq })));
    } catch (err) {
      this.releasing.delete(openid);
      this.node.logger.warn({ openid, err }, 'session hand-off failed');
    }
  }
}

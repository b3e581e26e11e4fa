/**
 * The session directory: KV bucket openid -> { node, sessionId }, watched into
 * a local cache so routing a push costs no round trip.
 *
 * Writes are never lost silently: a put or delete that fails is retried with
 * backoff until it is stored (or the directory stops); a later write of the same
 * openid replaces a pending retry, so the newest entry wins. The returned promise
 * settles with the first attempt, for callers that must know (a claim).
 */

import type { KV, KvEntry, QueuedIterator } from 'nats';
import type { Logger } from '../../actors/ports.js';
import { retryUntil } from './retry.js';
import { directoryKey } from './subjects.js';

export interface DirectoryEntry {
  node: string;
  sessionId: string;
}

export class SessionDirectory {
  private readonly byOpenid = new Map<string, DirectoryEntry>();
  private readonly bySession = new Map<string, string>();
  private watcher: QueuedIterator<KvEntry> | null = null;
  /** openid -> the newest write not yet stored (retried in the background). */
  private readonly unsaved = new Map<string, () => Promise<unknown>>();
  private stopped = false;

  constructor(
    private readonly kv: KV,
    private readonly logger?: Logger,
  ) {}

  async start(): Promise<void> {
    const w = await this.kv.watch();
    this.watcher = w;
    void (async () => {
      try {
        for await (const e of w) {
          const openid = Buffer.from(e.key, 'base64url').toString('utf8');
          if (e.operation === 'PUT') {
            try {
              this.set(openid, JSON.parse(e.string()) as DirectoryEntry);
            } catch {
              // not ours
            }
          } else this.unset(openid);
        }
      } catch (err) {
        this.logger?.warn({ err }, 'directory watch stopped');
      }
    })();
  }

  stop(): void {
    this.stopped = true;
    this.watcher?.stop();
    this.watcher = null;
  }

  /** Writes not stored yet (stats, tests). */
  get unsavedCount(): number {
    return this.unsaved.size;
  }

  lookup(kind: 'openid' | 'session', id: string): (DirectoryEntry & { openid: string }) | null {
    const openid = kind === 'openid' ? id : this.bySession.get(id);
    if (openid === undefined) return null;
    const e = this.byOpenid.get(openid);
    return e && (kind === 'openid' || e.sessionId === id) ? { ...e, openid } : null;
  }

  /** Fresh read (START on this node: who holds the openid right now?). */
  async fetch(openid: string): Promise<DirectoryEntry | null> {
    const e = await this.kv.get(directoryKey(openid));
    if (!e || e.operation !== 'PUT') return null;
    try {
      return JSON.parse(e.string()) as DirectoryEntry;
    } catch {
      return null;
    }
  }

  put(openid: string, entry: DirectoryEntry): Promise<void> {
    const cur = this.byOpenid.get(openid);
    if (cur && cur.node === entry.node && cur.sessionId === entry.sessionId && !this.unsaved.has(openid))
      return Promise.resolve();
    this.set(openid, entry);
    return this.write(openid, () => this.kv.put(directoryKey(openid), JSON.stringify(entry)));
  }

  /** The session ended here: drop the entry unless another node took it meanwhile. */
  remove(openid: string, entry: DirectoryEntry): Promise<void> {
    const cur = this.byOpenid.get(openid);
    if (cur && (cur.node !== entry.node || cur.sessionId !== entry.sessionId)) return Promise.resolve();
    this.unset(openid);
    return this.write(openid, () => this.kv.delete(directoryKey(openid)));
  }

  /** One attempt now; if it fails, retried in the background until stored or superseded. */
  private async write(openid: string, op: () => Promise<unknown>): Promise<void> {
    this.unsaved.set(openid, op);
    try {
      await op();
      if (this.unsaved.get(openid) === op) this.unsaved.delete(openid);
    } catch (err) {
      this.logger?.warn({ openid, err }, 'directory update failed; retrying');
      void retryUntil(
        async () => {
          await op();
          return true;
        },
        { stopped: () => this.stopped || this.unsaved.get(openid) !== op, minMs: 200, maxMs: 5_000 },
      ).then((stored) => {
        if (stored && this.unsaved.get(openid) === op) this.unsaved.delete(openid);
      });
      throw err;
    }
  }

  private set(openid: string, e: DirectoryEntry): void {
    const old = this.byOpenid.get(openid);
    if (old) this.bySession.delete(old.sessionId);
    this.byOpenid.set(openid, e);
    this.bySession.set(e.sessionId, openid);
  }

  private unset(openid: string): void {
    const old = this.byOpenid.get(openid);
    if (old) this.bySession.delete(old.sessionId);
    this.byOpenid.delete(openid);
  }
}

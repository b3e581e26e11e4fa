/**
 * The session directory: KV bucket openid -> { node, sessionId }, watched into
 * a local cache so routing a push costs no round trip.
 */
import type { KV, KvEntry, QueuedIterator } from 'nats';
import { directoryKey } from './subjects.js';

export interface DirectoryEntry {
  node: string;
  sessionId: string;
}

type Log = { warn(obj: object, msg?: string): void };

export class SessionDirectory {
  private readonly byOpenid = new Map<string, DirectoryEntry>();
  private readonly bySession = new Map<string, string>();
  private watcher: QueuedIterator<KvEntry> | null = null;

  constructor(
    private readonly kv: KV,
    private readonly logger?: Log,
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
        this.logger?.warn({ err: String(err) }, 'directory watch stopped');
      }
    })();
  }

  stop(): void {
    this.watcher?.stop();
    this.watcher = null;
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

  put(openid: string, entry: DirectoryEntry): void {
    const cur = this.byOpenid.get(openid);
    if (cur && cur.node === entry.node && cur.sessionId === entry.sessionId) return;
    this.set(openid, entry);
    this.kv.put(directoryKey(openid), JSON.stringify(entry)).catch((err: unknown) => {
      this.logger?.warn({ openid, err: String(err) }, 'directory update failed');
    });
  }

  /** The session ended here: drop the entry unless another node took it meanwhile. */
  remove(openid: string, entry: DirectoryEntry): void {
    const cur = this.byOpenid.get(openid);
    if (cur && (cur.node !== entry.node || cur.sessionId !== entry.sessionId)) return;
    this.unset(openid);
    this.kv.delete(directoryKey(openid)).catch(() => {});
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

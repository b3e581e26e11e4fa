/**
 * Session lifecycle on NATS: each change is published for upstreams on
 * P.lifecycle.<type> and kept in the session directory, which is how other
 * nodes find the session to route pushes and hand it over.
 */
import type { SessionLifecycle } from '../../actors/ports.js';
import type { ClusterNode } from './cluster-node.js';
import type { DirectoryEntry } from './directory.js';

const enc = new TextEncoder();

export class LifecyclePublisher {
  constructor(private readonly node: ClusterNode) {}

  publish(ev: SessionLifecycle): void {
    const { directory } = this.node;
    const entry: DirectoryEntry = { node: this.node.nodeId, sessionId: ev.sessionId };
    let type: string;
    const extra: Record<string, unknown> = {};
    switch (ev.type) {
      case 'created':
        void directory.put(ev.openid, entry).catch(() => {}); // retried by the directory
        type = 'start';
        break;
      case 'resumed':
        void directory.put(ev.openid, entry).catch(() => {});
        type = 'resume';
        extra.takeover = ev.takeover;
        break;
      case 'login':
        type = 'login';
        extra.zone = ev.zone;
        break;
      case 'detached':
        type = 'detach';
        break;
      case 'ended':
        void directory.remove(ev.openid, entry).catch(() => {});
        type = ev.reason === 'stop' ? 'logout' : 'close';
        extra.reason = ev.reason;
        break;
    }
    const body = {
      type,
      sessionId: ev.sessionId,
      openid: ev.openid,
      node: this.node.cfg.backup.serverId,
      at: Date.now(),
      ...extra,
    };
    try {
      this.node.nc.publish(this.node.names.lifecycle(type), enc.encode(JSON.stringify(body)));
    } catch {
      // connection closing
    }
  }
}

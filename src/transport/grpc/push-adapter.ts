/**
 * GatewayService -> actor system: turns push RPCs into actor events. One
 * NotifyMessage is encoded per RPC and shared by every target.
 */
import type { PushTarget, SessionSystem } from '../../actors/session-system.js';
import type { PushResult } from '../../machines/session-machine.js';
import { NotifySyncHint } from '../../protocol/codes.js';
import {
  type BatchUnicastPushResponse,
  NotifyMessage,
  type UnicastPushResponse,
  type UnicastResult,
} from '../../protocol/messages.js';
import type { PushApi } from './gateway-server.js';

function target(targetType: string, targetId: string): PushTarget {
  return { kind: targetType === 'session' ? 'session' : 'openid', id: targetId };
}

function toResponse(r: PushResult): UnicastPushResponse {
  return r.ok
    ? { success: true, message: `accepted as seq ${r.seq}`, errorCode: '' }
    : { success: false, message: r.message, errorCode: r.errorCode };
}

export function pushApiFor(system: Pick<SessionSystem, 'push' | 'broadcast'>): PushApi {
  return {
    async pushToClient(req) {
      const payload = NotifyMessage.encode({
        msgType: req.msgType,
        title: req.title,
        content: req.content,
        data: req.data,
        metadata: req.metadata,
      });
      const hint = (req.syncHint ?? 0) as NotifySyncHint;
      return toResponse(
        await system.push(target(req.targetType, req.targetId), payload, hint, req.bindClientSeqId ?? 0),
      );
    },
    async batchPush(req): Promise<BatchUnicastPushResponse> {
      const payload = NotifyMessage.encode({
        msgType: req.msgType,
        title: req.title,
        content: req.content,
        data: req.data,
        metadata: req.metadata,
      });
      const results: UnicastResult[] = await Promise.all(
        (req.targets ?? []).map(async (t) => {
          const r = await system.push(
            target(t.targetType, t.targetId),
            payload,
            NotifySyncHint.IMMEDIATELY,
            0,
          );
          return {
            targetType: t.targetType,
            targetId: t.targetId,
            success: r.ok,
            errorMessage: r.ok ? '' : `${r.errorCode}: ${r.message}`,
          };
        }),
      );
      return { successCount: results.filter((r) => r.success).length, totalCount: results.length, results };
    },
    async broadcast(req) {
      const payload = NotifyMessage.encode({
        msgType: req.msgType,
        title: req.title,
        content: req.content,
        data: req.data,
        metadata: req.metadata,
        broadcast: true,
      });
      const delivered = await system.broadcast(payload, req.zone ?? 0);
      return { success: true, message: `delivered to ${delivered} sessions`, deliveredCount: delivered };
    },
  };
}

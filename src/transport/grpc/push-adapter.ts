/**
 * Producer pushes -> actor system: turns push requests (gRPC GatewayService, or
 * the same protobuf messages received over NATS) into actor events. One
 * NotifyMessage is encoded per request and shared by every target. The helpers
 * are exported so every push transport applies the same rules.
 */
import type { PushTarget } from '../../actors/session-system.js';
import type { PushResult } from '../../machines/session-machine.js';
import { NotifySyncHint } from '../../protocol/codes.js';
import {
  type BatchUnicastPushResponse,
  NotifyMessage,
  type UnicastPushResponse,
  type UnicastResult,
} from '../../protocol/messages.js';
import type { PushApi } from './gateway-server.js';

/** Where accepted pushes go: the local SessionSystem, or a cluster-aware router in front of it. */
export interface PushSink {
  push(
    target: PushTarget,
    payload: Uint8Array,
    hint: NotifySyncHint,
    bindSeq: number,
    pushId?: string,
  ): Promise<PushResult>;
  broadcast(payload: Uint8Array, zone: number, pushId?: string): Promise<number>;
}

export function pushTarget(targetType: string, targetId: string): PushTarget {
  return { kind: targetType === 'session' ? 'session' : 'openid', id: targetId };
}

/**
 * A repeated push id is answered exactly as its first acceptance was (`accepted
 * as seq N`, the seq the first push got), so a retrying producer sees one answer.
 */
export function toUnicastResponse(r: PushResult): UnicastPushResponse {
  return r.ok
    ? { success: true, message: `accepted as seq ${r.seq}`, errorCode: '' }
    : { success: false, message: r.message, errorCode: r.errorCode };
}

/** A request's push id, or undefined for none (an empty one means no de-duplication). */
export function pushIdOf(req: { pushId?: string }): string | undefined {
  return req.pushId ? req.pushId : undefined;
}

/** The NotifyMessage a producer's request becomes (encoded once, shared by every target). */
export function notifyPayload(
  req: {
    msgType?: string;
    title?: string;
    content?: string;
    data?: Uint8Array;
    metadata?: Record<string, string>;
  },
  broadcast = false,
): Uint8Array {
  return NotifyMessage.encode({
    msgType: req.msgType ?? '',
    title: req.title ?? '',
    content: req.content ?? '',
    data: req.data ?? new Uint8Array(0),
    metadata: req.metadata ?? {},
    ...(broadcast ? { broadcast: true } : {}),
  });
}

export function pushApiFor(system: PushSink): PushApi {
  return {
    async pushToClient(req) {
      const hint = (req.syncHint ?? 0) as NotifySyncHint;
      return toUnicastResponse(
        await system.push(
          pushTarget(req.targetType, req.targetId),
          notifyPayload(req),
          hint,
          req.bindClientSeqId ?? 0,
          pushIdOf(req),
        ),
      );
    },
    async batchPush(req): Promise<BatchUnicastPushResponse> {
      const payload = notifyPayload(req);
      const pushId = pushIdOf(req);
      const results: UnicastResult[] = await Promise.all(
        (req.targets ?? []).map(async (t) => {
          const r = await system.push(
            pushTarget(t.targetType, t.targetId),
            payload,
            NotifySyncHint.IMMEDIATELY,
            0,
            pushId,
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
      // A repeat reaches only the sessions that did not accept the first; the count includes the others.
      const delivered = await system.broadcast(notifyPayload(req, true), req.zone ?? 0, pushIdOf(req));
      return { success: true, message: `delivered to ${delivered} sessions`, deliveredCount: delivered };
    },
  };
}

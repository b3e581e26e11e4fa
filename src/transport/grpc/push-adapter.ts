/**
 * Producer pushes over gRPC -> the push sink (the session system, or the
 * cluster's router in front of it). One NotifyMessage is encoded per request
 * and shared by every target; the rules are push-requests.ts's, shared with NATS.
 */
import type { PushSink } from '../../actors/ports.js';
import { NotifySyncHint } from '../../protocol/codes.js';
import type { BatchUnicastPushResponse, UnicastResult } from '../../protocol/messages.js';
import { notifyPayload, pushIdOf, pushTarget, toUnicastResponse } from '../push-requests.js';
import type { PushApi } from './gateway-server.js';

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

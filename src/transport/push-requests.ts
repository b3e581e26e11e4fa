/**
 * Producer push requests, whichever way they arrive (gRPC GatewayService or the
 * same protobuf messages over NATS): validation, the NotifyMessage a request
 * becomes, and the UnicastPushResponse a PushResult becomes. Pure: every push
 * transport applies the same rules through here.
 */
import type { PushTarget } from '../actors/ports.js';
import type { PushResult } from '../machines/session-types.js';
import { NotifyMessage, type UnicastPushRequest, type UnicastPushResponse } from '../protocol/messages.js';

const MAX_TARGET_ID_BYTES = 1024;
/** Longest push_id (docs/protocol.md section 5, v1.1). */
export const MAX_PUSH_ID_BYTES = 128;

/** Why a push id is invalid, or null when it is fine ('' and absent mean no de-duplication). */
export function validatePushId(pushId: string | undefined): string | null {
  if (pushId === undefined || pushId === '') return null;
  if (typeof pushId !== 'string') return 'push_id must be a string';
  if (Buffer.byteLength(pushId) > MAX_PUSH_ID_BYTES) return `push_id longer than ${MAX_PUSH_ID_BYTES} bytes`;
  return null;
}

/** Why a target is invalid, or null when it is fine. */
export function validateTarget(targetType: string, targetId: string): string | null {
  if (targetType !== 'session' && targetType !== 'openid') {
    return `target_type must be "session" or "openid", got "${String(targetType).slice(0, 32)}"`;
  }
  if (typeof targetId !== 'string' || targetId === '') return 'target_id must not be empty';
  if (Buffer.byteLength(targetId) > MAX_TARGET_ID_BYTES)
    return `target_id longer than ${MAX_TARGET_ID_BYTES} bytes`;
  return null;
}

/** Why a unicast push request is invalid, or null when it is fine. */
export function validateUnicast(req: UnicastPushRequest): string | null {
  const bad = validateTarget(req.targetType ?? '', req.targetId ?? '');
  if (bad !== null) return bad;
  const hint = req.syncHint ?? 0;
  if (!Number.isInteger(hint) || hint < 0 || hint > 2) return `sync_hint must be 0..2, got ${hint}`;
  return validatePushId(req.pushId);
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

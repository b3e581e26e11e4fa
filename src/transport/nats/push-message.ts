/**
 * Decoding a message of the push stream: the subject names the target
 * (P.push.openid.<id>, .session.<id>, .broadcast, .zone.<n>) unless the
 * request body does.
 *
 * Push id (one de-duplication path with gRPC's push_id): the body's `push_id`
 * if set, else the message's `Nats-Msg-Id` header, else `js:<stream seq>` (so
 * a redelivery of the same stream message is still a no-op).
 */
import type { JsMsg } from 'nats';
import type { PushTarget } from '../../actors/ports.js';
import type { NotifySyncHint } from '../../protocol/codes.js';
import { BroadcastRequest, UnicastPushRequest } from '../../protocol/messages.js';
import { notifyPayload, pushTarget, validatePushId, validateUnicast } from '../push-requests.js';

export type UnicastPush = {
  kind: 'unicast';
  target: PushTarget;
  payload: Uint8Array;
  hint: NotifySyncHint;
  bindSeq: number;
  pushId: string;
};

export type ParsedPush =
  | UnicastPush
  | { kind: 'broadcast'; payload: Uint8Array; zone: number; pushId: string }
  // `broadcast` picks the response type the producer is waiting for.
  | { kind: 'bad'; reason: string; broadcast: boolean };

/** Header JetStream de-duplicates on; the gateway takes it as the push id too. */
export const MSG_ID_HEADER = 'Nats-Msg-Id';

/** The push id of a stream message whose body gives `bodyId` (see the file comment). */
export function natsPushId(m: JsMsg, bodyId: string | undefined): string {
  if (bodyId) return bodyId;
  const header = m.headers?.get(MSG_ID_HEADER);
  return header ? header : `js:${m.seq}`;
}

/** `pushAll` is the stream's wildcard subject (P.push.>). */
export function parsePush(m: JsMsg, pushAll: string): ParsedPush {
  const rest = m.subject.slice(pushAll.length - 1);
  const dot = rest.indexOf('.');
  const kind = dot < 0 ? rest : rest.slice(0, dot);
  const token = dot < 0 ? '' : rest.slice(dot + 1);
  try {
    if (kind === 'broadcast' || kind === 'zone') {
      const req = BroadcastRequest.decode(m.data);
      const zone = kind === 'zone' ? Number(token) : (req.zone ?? 0);
      if (!Number.isSafeInteger(zone) || zone < 0)
        return { kind: 'bad', reason: `zone must be >= 0, got ${token}`, broadcast: true };
      const pushId = natsPushId(m, req.pushId);
      const badId = validatePushId(pushId);
      if (badId) return { kind: 'bad', reason: badId, broadcast: true };
      return { kind: 'broadcast', payload: notifyPayload(req, true), zone, pushId };
    }
    if (kind === 'openid' || kind === 'session') {
      const req = UnicastPushRequest.decode(m.data);
      if (!req.targetId) {
        req.targetType = kind;
        req.targetId = token;
      } else if (!req.targetType) req.targetType = kind;
      req.pushId = natsPushId(m, req.pushId);
      const bad = validateUnicast(req);
      if (bad) return { kind: 'bad', reason: bad, broadcast: false };
      return {
        kind: 'unicast',
        target: pushTarget(req.targetType, req.targetId),
        payload: notifyPayload(req),
        hint: (req.syncHint ?? 0) as NotifySyncHint,
        bindSeq: req.bindClientSeqId ?? 0,
        pushId: req.pushId,
      };
    }
    return { kind: 'bad', reason: `unknown push subject ${m.subject}`, broadcast: false };
  } catch {
    return {
      kind: 'bad',
      reason: 'undecodable push message',
      broadcast: kind === 'broadcast' || kind === 'zone',
    };
  }
}

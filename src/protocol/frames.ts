/**
 * Builders of the length-prefixed ServerPush frames the gateway sends. Pure.
 * Reliable frames carry their seq; control frames carry seq 0 (section 3).
 */

import { PushType } from './codes.js';
import { encodeFrame } from './framing.js';
import {
  BusinessResponse,
  ErrorMessage,
  HeartbeatResponse,
  ServerPush,
  type StartResponse,
  StartResponse as StartResponseCodec,
} from './messages.js';

const EMPTY = new Uint8Array(0);

export function pushFrame(
  type: PushType,
  msgId: number,
  seqId: number,
  payload: Uint8Array,
  headers?: Record<string, string>,
): Uint8Array {
  return encodeFrame(ServerPush.encode({ msgId, seqId, type, payload, headers }));
}

export function startRespFrame(msgId: number, resp: Partial<StartResponse>): Uint8Array {
  return pushFrame(PushType.START_RESP, msgId, 0, StartResponseCodec.encode(resp));
}

export function heartbeatRespFrame(msgId: number, clientTimestamp: number, now: number): Uint8Array {
  return pushFrame(
    PushType.HEARTBEAT_RESP,
    msgId,
    0,
    HeartbeatResponse.encode({ clientTimestamp, serverTimestamp: now }),
  );
}

/** ERROR about the protocol (not answering a BUSINESS request): seq 0, not retransmitted. */
export function controlErrorFrame(msgId: number, code: number, message: string, detail = ''): Uint8Array {
  return pushFrame(
    PushType.ERROR,
    msgId,
    0,
    ErrorMessage.encode({ errorCode: code, errorMessage: message, detail }),
  );
}

/** Reliable ERROR answering BUSINESS request `clientSeq`. */
export function answerErrorFrame(
  seq: number,
  msgId: number,
  clientSeq: number,
  code: number,
  message: string,
  detail = '',
): Uint8Array {
  return pushFrame(
    PushType.ERROR,
    msgId,
    seq,
    ErrorMessage.encode({ errorCode: code, errorMessage: message, detail }),
    { client_seq: String(clientSeq) },
  );
}

/** Reliable BUSINESS_DATA answering `clientSeq`; upstream headers ride along. */
export function answerFrame(
  seq: number,
  msgId: number,
  clientSeq: number,
  code: number,
  message: string,
  data: Uint8Array | undefined,
  headers: Record<string, string> | undefined,
): Uint8Array {
  const h: Record<string, string> = headers ? { ...headers } : {};
  h.client_seq = String(clientSeq);
  return pushFrame(
    PushType.BUSINESS_DATA,
    msgId,
    seq,
    BusinessResponse.encode({ code, message, data: data ?? EMPTY }),
    h,
  );
}

/** ServerPush field tags (field << 3 | wire type) of a NOTIFY: seq_id varint, type varint, payload bytes. */
const SEQ_TAG = (2 << 3) | 0;
const TYPE_TAG = (3 << 3) | 0;
const PAYLOAD_TAG = (4 << 3) | 2;

/** Write `n` (a non-negative safe integer) as a protobuf varint at `off`; returns the offset after it. */
function writeVarint(out: Uint8Array, off: number, n: number): number {
  // Above 2^31 bitwise operators would truncate: divide instead.
  while (n > 0x7fffffff) {
    out[off++] = (n % 128) | 0x80;
    n = Math.floor(n / 128);
  }
  while (n > 127) {
    out[off++] = (n & 0x7f) | 0x80;
    n >>>= 7;
  }
  out[off++] = n;
  return off;
}

/**
 * Reliable NOTIFY; `payload` is an encoded NotifyMessage, shared by every target
 * of a broadcast. Only the envelope's seq differs per session, so the frame is
 * written directly (the same bytes ServerPush.encode gives: fields in number
 * order, defaults left out) around the pre-encoded payload: one buffer and one
 * copy of the payload per delivery, no message object, no encoder.
 */
export function notifyFrame(seq: number, payload: Uint8Array): Uint8Array {
  const seqField = seq === 0 ? 0 : 1 + varintBytes(seq);
  const payloadField = payload.length === 0 ? 0 : 1 + varintBytes(payload.length) + payload.length;
  const body = seqField + 2 + payloadField;
  const out = Buffer.allocUnsafe(FRAME_PREFIX_BYTES + body);
  out.writeUInt32BE(body, 0);
  let off = FRAME_PREFIX_BYTES;
  if (seq !== 0) {
    out[off++] = SEQ_TAG;
    off = writeVarint(out, off, seq);
  }
  out[off++] = TYPE_TAG;
  out[off++] = PushType.NOTIFY;
  if (payload.length > 0) {
    out[off++] = PAYLOAD_TAG;
    off = writeVarint(out, off, payload.length);
    out.set(payload, off);
  }
  return out;
}

/** Bytes of a protobuf varint. */
function varintBytes(n: number): number {
  let bytes = 1;
  while (n >= 128) {
    n = Math.floor(n / 128);
    bytes++;
  }
  return bytes;
}

/**
 * Length prefix of every frame (the 4-byte N). A frame's limit is checked on N
 * alone, as a receiver's FrameDecoder does: `frame.length - FRAME_PREFIX_BYTES <= max_frame_bytes`.
 */
export const FRAME_PREFIX_BYTES = 4;

/** Varint bytes of the largest seq a NOTIFY may carry (Number.MAX_SAFE_INTEGER). */
const MAX_SEQ_VARINT_BYTES = varintBytes(Number.MAX_SAFE_INTEGER);

/**
 * Bytes of the NOTIFY frame `notifyFrame(seq, payload)` builds, length prefix
 * included, counted with the largest possible seq: a bound that does not depend
 * on the seq the notify will get (a held notify gets it later), at most 7 bytes
 * above the real size. ServerPush fields: seq_id (tag + varint), type (tag + 1),
 * payload (tag + varint length + bytes); msg_id 0, empty headers and an empty
 * payload are not encoded.
 */
export function notifyFrameBytes(payloadLength: number): number {
  // proto3 leaves an empty payload out.
  const payloadField = payloadLength === 0 ? 0 : 1 + varintBytes(payloadLength) + payloadLength;
  return FRAME_PREFIX_BYTES + (1 + MAX_SEQ_VARINT_BYTES) + 2 + payloadField;
}

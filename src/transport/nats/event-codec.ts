/**
 * Stored form of session events (one JetStream message = one append of one
 * session, or a compaction snapshot). Compact, versioned JSON: byte fields
 * (`frame`, `payload`) travel as base64; every event keeps its own `v`.
 *
 *   {"v":1,"e":[{"v":1,"type":"acked","seq":7}, ...]}          an append
 *   {"v":1,"s":1,"e":[{"v":1,"type":"started",...}, ...]}      a snapshot (rollup)
 *
 * Pure: no NATS here (the adapter and the backup share it).
 */
import { SESSION_EVENT_VERSION, type SessionEvent } from '../../machines/session-state.js';

export const EVENT_RECORD_VERSION = 1;

export interface EventRecord {
  /** A snapshot replaces everything stored before it for the session. */
  snapshot: boolean;
  events: SessionEvent[];
}

const enc = new TextEncoder();
const dec = new TextDecoder();

function b64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

function unb64(s: unknown, what: string): Uint8Array {
  if (typeof s !== 'string') throw new Error(`stored event: ${what} must be base64 text`);
  const buf = Buffer.from(s, 'base64');
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
}

/** One event as plain JSON data (bytes as base64). */
function toJson(e: SessionEvent): unknown {
  switch (e.type) {
    case 'pushed':
      return { ...e, frame: b64(e.frame) };
    case 'held':
      return { ...e, payload: b64(e.payload) };
    default:
      return e;
  }
}

const TYPES = new Set([
  'started',
  'logged_in',
  'request_accepted',
  'request_done',
  'pushed',
  'held',
  'acked',
  'attached',
  'detached',
  'closed',
  'rebased',
]);

function fromJson(raw: unknown): SessionEvent {
  if (!raw || typeof raw !== 'object') throw new Error('stored event: not an object');
  const o = raw as Record<string, unknown>;
  if (o.v !== SESSION_EVENT_VERSION) throw new Error(`stored event: unsupported version ${String(o.v)}`);
  if (typeof o.type !== 'string' || !TYPES.has(o.type))
    throw new Error(`stored event: unknown type ${String(o.type)}`);
  if (o.type === 'pushed') return { ...(o as object), frame: unb64(o.frame, 'frame') } as SessionEvent;
  if (o.type === 'held') return { ...(o as object), payload: unb64(o.payload, 'payload') } as SessionEvent;
  return o as unknown as SessionEvent;
}

export function encodeEventRecord(events: readonly SessionEvent[], snapshot = false): Uint8Array {
  const e = events.map(toJson);
  return enc.encode(
    JSON.stringify(snapshot ? { v: EVENT_RECORD_VERSION, s: 1, e } : { v: EVENT_RECORD_VERSION, e }),
  );
}

export function decodeEventRecord(data: Uint8Array): EventRecord {
  const raw = JSON.parse(dec.decode(data)) as { v?: unknown; s?: unknown; e?: unknown };
  if (raw.v !== EVENT_RECORD_VERSION)
    throw new Error(`stored event record: unsupported version ${String(raw.v)}`);
  if (!Array.isArray(raw.e)) throw new Error('stored event record: no events');
  return { snapshot: raw.s === 1, events: raw.e.map(fromJson) };
}

/**
 * Stored form of session events (one JetStream message = one append of one
 * session, or a compaction snapshot). Compact, versioned JSON: byte fields
 * (`frame`, `payload`) travel as base64; every event keeps its own `v`.
 *
 *   {"v":1,"e":[{"v":1,"type":"acked","seq":7}, ...]}          an append
 *   {"v":1,"s":1,"e":[{"v":1,"type":"started",...}, ...]}      a snapshot (rollup)
 *   {"v":1,"p":{"id":"…","k":0,"n":3},"e":[...]}               part k of n of a snapshot
 *                                                              too large for one message
 *
 * A snapshot in parts replaces the session's state only once its last part is
 * read; a reader that meets anything else first drops the unfinished parts (their
 * writer stopped mid-way, so the state before them still stands).
 *
 * Pure: no NATS here (the adapter and the backup share it).
 */
import { SESSION_EVENT_VERSION, type SessionEvent } from '../../machines/session-state.js';

export const EVENT_RECORD_VERSION = 1;

export interface RecordPart {
  /** Same for every part of one snapshot. */
  id: string;
  /** 0-based index of this part. */
  k: number;
  /** Number of parts. */
  n: number;
}

export interface EventRecord {
  /** A snapshot replaces everything stored before it for the session. */
  snapshot: boolean;
  /** Set on the parts of a snapshot stored as several messages. */
  part?: RecordPart;
  events: SessionEvent[];
}

/** Bytes a record adds around its events (envelope and part header), rounded up generously. */
export const RECORD_OVERHEAD = 256;

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
  return encodeRecord(events.map(encodeEventJson), { snapshot });
}

/** One event as stored JSON text (to size events before they are grouped into records). */
export function encodeEventJson(e: SessionEvent): string {
  return JSON.stringify(toJson(e));
}

/** A record from events already encoded with `encodeEventJson`. */
export function encodeRecord(
  eventJsons: readonly string[],
  opts: { snapshot?: boolean; part?: RecordPart } = {},
): Uint8Array {
  let head = `{"v":${EVENT_RECORD_VERSION}`;
  if (opts.snapshot) head += ',"s":1';
  if (opts.part) head += `,"p":${JSON.stringify(opts.part)}`;
  return enc.encode(`${head},"e":[${eventJsons.join(',')}]}`);
}

/**
 * Groups encoded events, in order, so that each group's record stays within
 * `maxRecordBytes`. Throws when one event alone cannot fit.
 */
export function groupBySize(eventJsons: readonly string[], maxRecordBytes: number): string[][] {
  const budget = maxRecordBytes - RECORD_OVERHEAD;
  // The usual append is far below the limit: a UTF-16 unit is at most 3 UTF-8 bytes,
  // so one sum of lengths proves it fits without measuring each event.
  let units = 0;
  for (const json of eventJsons) units += json.length + 1;
  if (units * 3 <= budget) return [eventJsons.slice()];
  const groups: string[][] = [];
  let group: string[] = [];
  let size = 0;
  for (const json of eventJsons) {
    const n = Buffer.byteLength(json) + 1;
    if (n > budget) throw new RangeError(`one session event is ${n} bytes; records are limited to ${budget}`);
    if (size + n > budget && group.length > 0) {
      groups.push(group);
      group = [];
      size = 0;
    }
    group.push(json);
    size += n;
  }
  if (group.length > 0) groups.push(group);
  return groups;
}

function partOf(raw: unknown): RecordPart | undefined {
  if (raw === undefined) return undefined;
  const p = raw as Partial<RecordPart> | null;
  if (
    !p ||
    typeof p.id !== 'string' ||
    !Number.isSafeInteger(p.k) ||
    !Number.isSafeInteger(p.n) ||
    p.k! < 0 ||
    p.k! >= p.n!
  )
    throw new Error('stored event record: bad snapshot part');
  return { id: p.id, k: p.k!, n: p.n! };
}

export function decodeEventRecord(data: Uint8Array): EventRecord {
  const raw = JSON.parse(dec.decode(data)) as { v?: unknown; s?: unknown; p?: unknown; e?: unknown };
  if (raw.v !== EVENT_RECORD_VERSION)
    throw new Error(`stored event record: unsupported version ${String(raw.v)}`);
  if (!Array.isArray(raw.e)) throw new Error('stored event record: no events');
  const part = partOf(raw.p);
  const events = raw.e.map(fromJson);
  return part ? { snapshot: false, part, events } : { snapshot: raw.s === 1, events };
}

/**
 * Connection-id routing table. Keys are the latin1 string of the id bytes, so
 * lookups compare every byte without hex encoding. Pure: no I/O.
 */

/** Routing key of a connection id. */
export function cidKey(cid: Uint8Array): string {
  return Buffer.from(cid.buffer, cid.byteOffset, cid.byteLength).toString('latin1');
}

/**
 * The destination connection id of a short-header packet, as a routing key, or
 * null when the datagram is not a short-header packet long enough to hold one.
 * Short header: first bit 0, then `cidLen` bytes of our own (fixed-length) id.
 */
export function shortHeaderDcidKey(pkt: Buffer, cidLen: number): string | null {
  if (pkt.length < 1 + cidLen || (pkt[0]! & 0x80) !== 0) return null;
  return pkt.toString('latin1', 1, 1 + cidLen);
}

/** True when the datagram starts with a long header. */
export function isLongHeader(pkt: Uint8Array): boolean {
  return pkt.length > 0 && (pkt[0]! & 0x80) !== 0;
}

export class CidTable<T> {
  private readonly map = new Map<string, T>();

  get size(): number {
    return this.map.size;
  }

  /** Map `cid` to `value`; returns the key, to unmap later. */
  add(cid: Uint8Array, value: T): string {
    const key = cidKey(cid);
    this.map.set(key, value);
    return key;
  }

  get(key: string): T | undefined {
    return this.map.get(key);
  }

  getCid(cid: Uint8Array): T | undefined {
    return this.map.get(cidKey(cid));
  }

  /** Unmap `key` if it still maps to `value` (or to anything, when omitted). */
  delete(key: string, value?: T): boolean {
    if (value !== undefined && this.map.get(key) !== value) return false;
    return this.map.delete(key);
  }
}

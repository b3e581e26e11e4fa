/** Seeded generators of hostile client frames (codec and live-gateway fuzz tests). */
import { RequestType } from '../../src/protocol/codes.js';
import { encodeFrame } from '../../src/protocol/framing.js';
import {
  BusinessRequest,
  ClientAck,
  ClientRequest,
  HeartbeatRequest,
  StartRequest,
  StopRequest,
} from '../../src/protocol/messages.js';

/** mulberry32: small, fast, good enough for fuzzing; same seed, same cases. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export class Gen {
  constructor(readonly rnd: () => number) {}
  int(n: number): number {
    return Math.floor(this.rnd() * n);
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }
  bytes(n: number): Uint8Array {
    const b = new Uint8Array(n);
    for (let i = 0; i < n; i++) b[i] = this.int(256);
    return b;
  }
  str(max: number): string {
    const n = this.int(max + 1);
    let s = '';
    for (let i = 0; i < n; i++) s += String.fromCharCode(this.pick([32 + this.int(95), this.int(0x3000), 0]));
    return s;
  }

  /** A well-formed ClientRequest body of a random type (START included). */
  validBody(openid = this.str(20) || 'x'): Uint8Array {
    const type = this.pick([
      RequestType.START,
      RequestType.STOP,
      RequestType.HEARTBEAT,
      RequestType.BUSINESS,
      RequestType.ACK,
      RequestType.UNKNOWN,
      7,
    ]);
    let payload: Uint8Array;
    switch (type) {
      case RequestType.START:
        payload = StartRequest.encode({ openid, authToken: this.str(30), lastAckedSeqId: this.int(1000) });
        break;
      case RequestType.STOP:
        payload = StopRequest.encode({ reason: this.int(5) });
        break;
      case RequestType.HEARTBEAT:
        payload = HeartbeatRequest.encode({ clientTimestamp: this.int(2 ** 40) });
        break;
      case RequestType.BUSINESS:
        payload = BusinessRequest.encode({
          action: this.pick(['echo', 'hello', 'sleep', 'big', 'fail', '', this.str(10)]),
          params: { ms: String(this.int(50)), bytes: String(this.int(100)), [this.str(5)]: this.str(5) },
          data: this.bytes(this.int(64)),
        });
        break;
      case RequestType.ACK:
        payload = ClientAck.encode({ ackedSeqId: this.int(100) });
        break;
      default:
        payload = this.bytes(this.int(32));
    }
    return ClientRequest.encode({
      msgId: this.int(2 ** 32),
      seqId: this.pick([0, 1, 2, this.int(100), 2 ** 40]),
      type,
      payload,
      headers: this.int(3) === 0 ? { [this.str(8)]: this.str(8) } : {},
      openid: this.int(2) === 0 ? openid : '',
    });
  }

  /** Flip, insert, delete or truncate bytes. */
  mutate(b: Uint8Array): Uint8Array {
    const out = Array.from(b);
    const n = 1 + this.int(4);
    for (let i = 0; i < n; i++) {
      const at = this.int(out.length + 1);
      switch (this.int(5)) {
        case 0:
          if (out.length > 0) out[at % out.length] = this.int(256);
          break;
        case 1:
          out.splice(at, 0, this.int(256));
          break;
        case 2:
          out.splice(at, 1 + this.int(4));
          break;
        case 3:
          out.length = Math.min(out.length, at);
          break;
        default:
          if (out.length > 0) out[at % out.length]! ^= 1 << this.int(8);
      }
    }
    return Uint8Array.from(out);
  }

  /** A stream chunk: framed valid or mutated bodies, raw garbage, bad lengths, or a mix. */
  streamBytes(maxFrame: number): Uint8Array {
    switch (this.int(7)) {
      case 0:
        return this.bytes(1 + this.int(200));
      case 1:
        return encodeFrame(this.mutate(this.validBody()));
      case 2: {
        const f = Buffer.from(encodeFrame(this.validBody()));
        return this.mutate(f); // the length prefix itself may be damaged
      }
      case 3: {
        const h = Buffer.alloc(4);
        h.writeUInt32BE(this.pick([0, maxFrame + 1, 0xffffffff, 2 ** 31, this.int(maxFrame) + 1]));
        return Buffer.concat([h, this.bytes(this.int(16))]);
      }
      case 4:
        return Buffer.concat([
          encodeFrame(this.validBody()),
          encodeFrame(this.validBody()),
          this.bytes(this.int(8)),
        ]);
      case 5:
        return encodeFrame(this.bytes(1 + this.int(100)));
      default:
        return encodeFrame(this.validBody());
    }
  }
}

/**
 * Stateless retry tokens: HMAC-SHA256 over (client address, original dcid,
 * timestamp), so a token is only good for the address it was issued to and for
 * a short time. Layout: version(1) | timestampMs(8) | odcidLen(1) | odcid | mac(16).
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

const VERSION = 1;
const MAC_LEN = 16;

export class RetryTokens {
  private readonly key: Buffer;

  constructor(
    private readonly lifetimeMs = 10_000,
    key?: Uint8Array,
  ) {
    this.key = key ? Buffer.from(key) : randomBytes(32);
  }

  mint(address: string, port: number, odcid: Uint8Array, now = Date.now()): Buffer {
    const body = Buffer.allocUnsafe(10 + odcid.length);
    body[0] = VERSION;
    body.writeDoubleBE(now, 1);
    body[9] = odcid.length;
    body.set(odcid, 10);
    return Buffer.concat([body, this.mac(body, address, port)]);
  }

  /** The original dcid carried by a valid token, or null. */
  validate(token: Uint8Array, address: string, port: number, now = Date.now()): Buffer | null {
    if (token.length < 10 + MAC_LEN || token[0] !== VERSION) return null;
    const t = Buffer.from(token.buffer, token.byteOffset, token.byteLength);
    const odcidLen = t[9]!;
    if (t.length !== 10 + odcidLen + MAC_LEN || odcidLen > 20) return null;
    const body = t.subarray(0, 10 + odcidLen);
    const mac = t.subarray(10 + odcidLen);
    if (!timingSafeEqual(mac, this.mac(body, address, port))) return null;
    const ts = t.readDoubleBE(1);
    if (!(now - ts <= this.lifetimeMs && ts - now <= 1000)) return null;
    return Buffer.from(t.subarray(10, 10 + odcidLen));
  }

  private mac(body: Buffer, address: string, port: number): Buffer {
    return createHmac('sha256', this.key)
      .update(body)
      .update(`${address}|${port}`)
      .digest()
      .subarray(0, MAC_LEN);
  }
}

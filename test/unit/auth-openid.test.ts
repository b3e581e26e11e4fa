import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { forbiddenOpenidChar, MAX_OPENID_BYTES, validateOpenid } from '../../src/auth/openid.js';

const cp = (n: number) => String.fromCodePoint(n);

describe('validateOpenid', () => {
  it('accepts ordinary ids, including non-ASCII letters and spaces', () => {
    for (const id of ['alice', 'user-42', 'o_9f8e7d', 'Zoë', '用户一', 'a b', 'x'.repeat(MAX_OPENID_BYTES)])
      assert.equal(validateOpenid(id), null, id);
  });

  it('refuses C0, DEL and C1 controls (CR/LF and NUL included)', () => {
    const controls = [...Array(0x20).keys(), ...Array.from({ length: 0x21 }, (_, i) => 0x7f + i)];
    for (const c of controls) {
      const r = validateOpenid(`ali${cp(c)}ce`);
      assert.ok(r?.includes(`U+${c.toString(16).toUpperCase().padStart(4, '0')}`), `${c}: ${r}`);
    }
    assert.match(validateOpenid('alice\r\nNats-Msg-Id: x') ?? '', /U\+000D/);
    assert.equal(validateOpenid(cp(0xa0)), null, 'NBSP is not a control');
    assert.equal(validateOpenid(cp(0x7e)), null);
  });

  it('refuses bidi controls and line/paragraph separators', () => {
    const bidi = [
      0x061c, 0x200e, 0x200f, 0x202a, 0x202b, 0x202c, 0x202d, 0x202e, 0x2066, 0x2067, 0x2068, 0x2069,
    ];
    for (const c of [...bidi, 0x2028, 0x2029])
      assert.notEqual(validateOpenid(`admin${cp(c)}`), null, c.toString(16));
    // "alice" that renders as "ecila": the reason names the character, never echoes the openid.
    const r = validateOpenid(`${cp(0x202e)}ecila`);
    assert.equal(r, 'openid contains a control or bidi character (U+202E)');
    assert.equal(forbiddenOpenidChar(`ok${cp(0x200d)}`), null, 'ZWJ (emoji sequences) is allowed');
  });

  it('keeps the length and emptiness rules', () => {
    assert.equal(validateOpenid(''), 'openid is required');
    assert.match(validateOpenid('é'.repeat(65)) ?? '', /128 bytes/);
  });
});

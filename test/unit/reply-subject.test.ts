import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  isAllowedReplySubject,
  MAX_REPLY_SUBJECT_BYTES,
  replySubjectRefusal,
} from '../../src/transport/nats/reply-subject.js';

const inboxOnly = { gatewayPrefix: 'gatesvr', replyPrefix: '' };
const withPrefix = { gatewayPrefix: 'gatesvr', replyPrefix: 'producer.answers' };

describe('Gatesvr-Reply subject policy', () => {
  it('accepts subjects under _INBOX.', () => {
    for (const s of ['_INBOX.abc', '_INBOX.Xy12.7', '_INBOX.a-b_c=d.e'])
      assert.equal(replySubjectRefusal(s, inboxOnly), null, s);
  });

  it('accepts subjects under nats.reply_prefix, with or without its trailing dot, on a token boundary', () => {
    assert.ok(isAllowedReplySubject('producer.answers.1', withPrefix));
    assert.ok(
      isAllowedReplySubject('producer.answers.1', { ...withPrefix, replyPrefix: 'producer.answers.' }),
    );
    assert.ok(!isAllowedReplySubject('producer.answers', withPrefix));
    assert.ok(!isAllowedReplySubject('producer.answersX.1', withPrefix));
    assert.ok(!isAllowedReplySubject('producer.answers.1', inboxOnly));
    assert.ok(isAllowedReplySubject('_INBOX.x', withPrefix));
  });

  it('refuses anything else', () => {
    for (const s of ['producer.answers', 'foo', 'INBOX.x', '_inbox.x', '_INBOXx.y'])
      assert.notEqual(replySubjectRefusal(s, inboxOnly), null, s);
  });

  it("never allows the gateway's own subjects, $KV, $JS or $SYS, even through reply_prefix", () => {
    const own = [
      'gatesvr.events.0f3c',
      'gatesvr.push.openid.victim',
      'gatesvr.node.ha.release',
      'gatesvr.lifecycle.start',
    ];
    for (const s of own) {
      assert.equal(replySubjectRefusal(s, inboxOnly), 'under the gateway subject prefix', s);
      assert.notEqual(replySubjectRefusal(s, { ...inboxOnly, replyPrefix: 'gatesvr' }), null, s);
      assert.notEqual(replySubjectRefusal(s, { ...inboxOnly, replyPrefix: 'gatesvr.events' }), null, s);
    }
    for (const s of ['$KV.GATESVR_LEASE.serving', '$JS.API.STREAM.DELETE.GATESVR', '$SYS.REQ.SERVER.PING']) {
      assert.match(replySubjectRefusal(s, inboxOnly) ?? '', /reserved/, s);
      assert.match(replySubjectRefusal(s, { ...inboxOnly, replyPrefix: s.split('.')[0]! }) ?? '', /reserved/);
    }
    // Another gateway prefix is just another subject.
    assert.ok(isAllowedReplySubject('_INBOX.gatesvr.events', inboxOnly));
    assert.ok(!isAllowedReplySubject('gw2.events.x', { gatewayPrefix: 'gw2', replyPrefix: 'gw2' }));
  });

  it('refuses invalid subjects: whitespace, control characters, wildcards, empty tokens, too long', () => {
    const bad: Array<[string, RegExp]> = [
      ['', /empty/],
      ['_INBOX.a b', /whitespace/],
      ['_INBOX.a\tb', /whitespace/],
      ['_INBOX.a\r\nPUB x 1', /whitespace/],
      ['_INBOX.a\u0000', /whitespace|control/],
      ['_INBOX.a\u00a0b', /whitespace/],
      ['_INBOX.*', /wildcard/],
      ['_INBOX.>', /wildcard/],
      ['_INBOX.a*b', /wildcard/],
      ['_INBOX.', /empty token/],
      ['_INBOX..a', /empty token/],
      ['_INBOX.a.', /empty token/],
      ['._INBOX.a', /empty token/],
      [`_INBOX.${'x'.repeat(MAX_REPLY_SUBJECT_BYTES)}`, /too long/],
      [`_INBOX.${'é'.repeat(MAX_REPLY_SUBJECT_BYTES / 2)}`, /too long/],
    ];
    for (const [s, why] of bad)
      assert.match(replySubjectRefusal(s, inboxOnly) ?? 'accepted', why, JSON.stringify(s));
    const longest = `_INBOX.${'x'.repeat(MAX_REPLY_SUBJECT_BYTES - 7)}`;
    assert.equal(Buffer.byteLength(longest), MAX_REPLY_SUBJECT_BYTES);
    assert.ok(isAllowedReplySubject(longest, inboxOnly));
  });
});

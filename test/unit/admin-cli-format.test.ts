/** The SSE parser of the admin client and the admin commands' output (tables, openid filter). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { filterEvent, table } from '../../src/cli/admin-format.js';
import { SseParser } from '../../src/client/sse.js';

describe('SseParser', () => {
  it('yields events split anywhere across chunks, skipping comments', () => {
    const text = ': ping\n\nevent: snapshot\ndata: {"a":1}\n\r\nevent: removed\r\ndata: x\r\ndata: y\r\n\r\n';
    for (let cut = 0; cut <= text.length; cut++) {
      const p = new SseParser();
      const got = [...p.push(text.slice(0, cut)), ...p.push(text.slice(cut))];
      assert.deepEqual(
        got,
        [
          { event: 'snapshot', data: '{"a":1}' },
          { event: 'removed', data: 'x\ny' },
        ],
        `cut at ${cut}`,
      );
    }
  });
  it('an event without a name is a message; one without data is none', () => {
    const p = new SseParser();
    assert.deepEqual(p.push('event: lonely\n\ndata: d\n\n'), [{ event: 'message', data: 'd' }]);
  });
});

describe('admin output', () => {
  it('table aligns columns and does not pad the last', () => {
    assert.equal(table(['A', 'BB'], [['xyz', '1']]), 'A    BB\nxyz  1\n');
  });
  it('filterEvent keeps the openid: snapshot narrowed, other openids dropped', () => {
    const snap = {
      event: 'snapshot',
      data: { total: 2, sessions: [{ openid: 'a' }, { openid: 'b' }] },
    };
    assert.deepEqual(filterEvent(snap, 'b'), {
      event: 'snapshot',
      data: { total: 2, sessions: [{ openid: 'b' }] },
    });
    assert.equal(filterEvent({ event: 'session', data: { session: { openid: 'a' } } }, 'b'), null);
    assert.ok(filterEvent({ event: 'session', data: { session: { openid: 'b' } } }, 'b'));
    assert.ok(filterEvent({ event: 'removed', data: { openid: 'b' } }, 'b'));
    assert.equal(filterEvent({ event: 'removed', data: { openid: 'a' } }, 'b'), null);
    assert.equal(filterEvent(snap, undefined), snap);
  });
});

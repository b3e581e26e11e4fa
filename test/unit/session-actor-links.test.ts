/**
 * A session actor forgets a link once the session is done with it: after a
 * detach (the connection is gone) and after a takeover has closed it with 0x11.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemoryEventLog } from '../../src/actors/memory-event-log.js';
import type { Clock, EventLog, SessionLink } from '../../src/actors/ports.js';
import { SessionActor } from '../../src/actors/session-actor.js';
import { createRoutingTable } from '../../src/machines/routing.js';
import type { SessionEvent } from '../../src/machines/session-state.js';
import { CloseCode } from '../../src/protocol/codes.js';
import { testConfig } from '../helpers/session-harness.js';

const clock: Clock = { now: () => 1_000, setTimer: () => 0, clearTimer: () => {} };

/** A log whose appends complete only when the test says so (a slow JetStream). */
class DeferredLog implements EventLog {
  readonly stored: SessionEvent[] = [];
  private waiting: Array<() => void> = [];
  append(_id: string, events: readonly SessionEvent[]): Promise<void> {
    return new Promise((resolve) => {
      this.waiting.push(() => {
        this.stored.push(...events);
        resolve();
      });
    });
  }
  forget(): void {}
  async completeAll(): Promise<void> {
    while (this.waiting.length > 0) {
      for (const done of this.waiting.splice(0)) done();
      await new Promise((r) => setImmediate(r));
    }
  }
}

function newActor(log: EventLog): SessionActor {
  const routing = createRoutingTable();
  return new SessionActor('sess-1', 'user-1', {
    config: testConfig,
    route: (a) => routing.serviceFor(a),
    upstream: { call: () => new Promise(() => {}) },
    upstreamTimeoutMs: 1_000,
    log,
    clock,
    onEnded: () => {},
  });
}

interface FakeLink extends SessionLink {
  frames: number;
  closes: number[];
}

/** Like the client listener: closing the connection sends DETACH for it. */
function link(actor: () => SessionActor, id: number): FakeLink {
  const l: FakeLink = {
    id,
    connectionId: `c${id}`,
    frames: 0,
    closes: [],
    send: (frames) => {
      l.frames += frames.length;
    },
    close: (code) => {
      if (l.closes.push(code) === 1) actor().send({ type: 'DETACH', linkId: id });
    },
  };
  return l;
}

describe('session actor links', () => {
  it('holds at most one link across 100 resumes after connection losses', () => {
    const actor = newActor(new MemoryEventLog(10));
    for (let i = 1; i <= 101; i++) {
      const l = link(() => actor, i);
      actor.attach(l, 1, 0, i === 1);
      assert.equal(l.frames, 1, 'START_RESP');
      assert.equal(actor.linkCount, 1);
      // The connection is lost: the transport sends DETACH.
      actor.send({ type: 'DETACH', linkId: i });
      assert.ok(actor.linkCount <= 1, `after resume ${i - 1}: ${actor.linkCount} links`);
    }
    assert.equal(actor.linkCount, 0);
    assert.equal(actor.state.resumes, 100);
  });

  it('100 takeovers: each old link is closed once with 0x11 and then forgotten', () => {
    const actor = newActor(new MemoryEventLog(10));
    const links: FakeLink[] = [];
    for (let i = 1; i <= 101; i++) {
      const l = link(() => actor, i);
      links.push(l);
      actor.attach(l, 1, 0, i === 1);
      assert.ok(actor.linkCount <= 2, `${actor.linkCount} links`);
    }
    assert.equal(actor.linkCount, 1);
    assert.equal(actor.linkId, 101);
    for (const l of links.slice(0, -1)) assert.deepEqual(l.closes, [CloseCode.SESSION_TAKEN_OVER]);
    assert.deepEqual(links.at(-1)!.closes, []);
    assert.equal(actor.state.takeovers, 100);
  });

  it('with a slow log the takeover close still reaches the old link, and a stale DETACH drops only its link', async () => {
    const log = new DeferredLog();
    const actor = newActor(log);
    await log.completeAll();
    const first = link(() => actor, 1);
    actor.attach(first, 1, 0, true);
    await log.completeAll();
    assert.equal(first.frames, 1);
    const second = link(() => actor, 2);
    actor.attach(second, 1, 0, false);
    // 'attached' is not stored yet: the close of the old link and START_RESP wait for it.
    assert.equal(actor.linkCount, 2);
    assert.deepEqual(first.closes, []);
    await log.completeAll();
    assert.deepEqual(first.closes, [CloseCode.SESSION_TAKEN_OVER]);
    assert.equal(second.frames, 1);
    assert.equal(actor.linkCount, 1);
    // A DETACH from the old link (already closed) changes nothing for the new one.
    actor.send({ type: 'DETACH', linkId: 1 });
    assert.equal(actor.linkCount, 1);
    assert.equal(actor.linkId, 2);
    // The new connection is lost before its detach is stored.
    actor.send({ type: 'DETACH', linkId: 2 });
    assert.equal(actor.linkCount, 0);
    await log.completeAll();
    assert.equal(actor.state.attached, false);
    assert.deepEqual(second.closes, []);
  });
});

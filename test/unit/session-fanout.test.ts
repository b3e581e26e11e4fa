/**
 * Fan-out through the session system: a broadcast reaches every NORMAL session
 * (of its zone) and counts the sessions that accepted it; pushes reaching one
 * session in one event-loop turn, from separate RPCs and broadcasts, are one
 * machine step and leave in one write, in arrival order.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { InspectionEvent } from 'xstate';
import { MemoryEventLog } from '../../src/actors/memory-event-log.js';
import type { Clock, SessionLink } from '../../src/actors/ports.js';
import { SessionSystem } from '../../src/actors/session-system.js';
import { createRoutingTable } from '../../src/machines/routing.js';
import { applySessionEvent, emptySessionState } from '../../src/machines/session-state.js';
import { NotifySyncHint } from '../../src/protocol/codes.js';
import { FrameDecoder } from '../../src/protocol/framing.js';
import { ServerPush } from '../../src/protocol/messages.js';
import { testConfig } from '../helpers/session-harness.js';

const clock: Clock = { now: () => 1_000, setTimer: () => 0, clearTimer: () => {} };
const MAX_QUEUE = 3;

interface Probe {
  system: SessionSystem;
  /** PUSH events the machines took. */
  pushSteps: () => number;
}

function newSystem(): Probe {
  const routing = createRoutingTable();
  let steps = 0;
  const system = new SessionSystem({
    config: { ...testConfig, maxQueue: MAX_QUEUE },
    route: (a) => routing.serviceFor(a),
    upstream: { call: () => new Promise(() => {}) },
    upstreamTimeoutMs: 1_000,
    log: new MemoryEventLog(10),
    clock,
    inspect: (e: InspectionEvent) => {
      if (e.type === '@xstate.event' && e.event.type === 'PUSH') steps++;
    },
  });
  return { system, pushSteps: () => steps };
}

interface Recorder extends SessionLink {
  /** One entry per link.send call: the seqs and payloads of its frames. */
  writes: Array<Array<{ seq: number; payload: string }>>;
}

/** A logged-in session of `zone`, attached to a link that records what it is sent. */
function loggedIn(system: SessionSystem, n: number, zone: number): Recorder {
  const s = emptySessionState(MAX_QUEUE);
  applySessionEvent(s, { v: 1, type: 'started', sessionId: `s${n}`, openid: `u${n}`, at: 1_000 });
  applySessionEvent(s, { v: 1, type: 'logged_in', zone, at: 1_000 });
  const actor = system.restore(s);
  const rec: Recorder = {
    id: n,
    connectionId: `c${n}`,
    writes: [],
    send: (frames) => {
      const dec = new FrameDecoder(1024);
      const got = frames.flatMap((f) => dec.push(f)).map((b) => ServerPush.decode(b));
      rec.writes.push(
        got
          .filter((m) => m.seqId > 0)
          .map((m) => ({ seq: m.seqId, payload: Buffer.from(m.payload).toString() })),
      );
    },
    close: () => {},
  };
  actor.attach(rec, 1, 0, false);
  rec.writes.length = 0; // START_RESP
  return rec;
}

const bytes = (s: string) => Buffer.from(s);

describe('session system fan-out', () => {
  it('counts the sessions that accepted a broadcast: zone filter, QUEUE_FULL skipped, none at all', async () => {
    const { system } = newSystem();
    assert.equal(await system.broadcast(bytes('nobody'), 0), 0);
    const a = loggedIn(system, 1, 1);
    const b = loggedIn(system, 2, 2);
    assert.equal(await system.broadcast(bytes('zone-2'), 2), 1);
    assert.equal(b.writes.flat().length, 1);
    assert.equal(a.writes.flat().length, 0);
    // a has room for 3 pushes, b for 2 more (nothing is acknowledged).
    const counts = await Promise.all([1, 2, 3].map((i) => system.broadcast(bytes(`all-${i}`), 0)));
    assert.deepEqual(counts, [2, 2, 1]);
    assert.deepEqual(
      b.writes.flat().map((w) => w.payload),
      ['zone-2', 'all-1', 'all-2'],
    );
    assert.equal(await system.broadcast(bytes('full'), 0), 0);
  });

  it('takes the broadcasts and pushes of one turn, from separate microtask checkpoints, as one step and one write per session, in order', async () => {
    const { system, pushSteps } = newSystem();
    const recs = [loggedIn(system, 1, 1), loggedIn(system, 2, 1)];
    // Three producers in one turn, each after its own microtask checkpoint (as gRPC calls arrive).
    const sent = Promise.all([
      system.broadcast(bytes('b1'), 0),
      Promise.resolve().then(() =>
        system.push({ kind: 'openid', id: 'u1' }, bytes('p1'), NotifySyncHint.IMMEDIATELY, 0),
      ),
      Promise.resolve()
        .then(() => Promise.resolve())
        .then(() => system.broadcast(bytes('b2'), 0)),
    ]);
    const [first, unicast, second] = await sent;
    assert.equal(first, 2);
    assert.equal(second, 2);
    assert.deepEqual(unicast, { ok: true, seq: 2 });
    assert.equal(pushSteps(), 2, 'one PUSH step per session');
    assert.deepEqual(recs[0]!.writes, [
      [
        { seq: 1, payload: 'b1' },
        { seq: 2, payload: 'p1' },
        { seq: 3, payload: 'b2' },
      ],
    ]);
    assert.deepEqual(recs[1]!.writes, [
      [
        { seq: 1, payload: 'b1' },
        { seq: 2, payload: 'b2' },
      ],
    ]);
  });
});

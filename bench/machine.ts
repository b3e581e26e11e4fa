/**
 * Scenario `machine`: the pure session machine alone (no I/O), pushes per second
 * through XState with one machine step per push (baseline) vs pushes batched the
 * way the session actor delivers a producer's batch (one step for 200), each
 * followed by a cumulative ACK. Shows what one interpreter step costs per push.
 */
import { createActor } from 'xstate';
import { type PushItem, sessionMachine } from '../src/machines/session-machine.js';
import { NotifyMessage } from '../src/protocol/messages.js';
import { emitResult, progress, type RunOptions, table } from './lib/report.js';

const CONFIG = {
  ackTimeoutMs: 30_000,
  maxRetries: 3,
  resumeWindowMs: 60_000,
  sessionTimeoutMs: 300_000,
  heartbeatIntervalSec: 30,
  maxQueue: 1_000_000,
  maxQueueBytes: Number.MAX_SAFE_INTEGER,
  maxFrameBytes: 1024 * 1024,
  pushDedupWindowMs: 10 * 60_000,
};

function measure(batch: number, seconds: number): { perSec: number; usPerPush: number } {
  const actor = createActor(sessionMachine, {
    input: { sessionId: 's', openid: 'o', now: 1, config: CONFIG, route: () => 'zone' },
  });
  let frames = 0;
  actor.on('send', (e) => {
    frames += e.frames.length;
  });
  actor.start();
  actor.send({
    type: 'ATTACH',
    now: 1,
    linkId: 1,
    connectionId: 'c',
    msgId: 1,
    lastAckedSeq: 0,
    isNew: true,
  });
  frames = 0; // not the START_RESP
  const payload = NotifyMessage.encode({ msgType: 'bench', content: 'hello world' });
  const items: PushItem[] = Array.from({ length: batch }, () => ({ payload, hint: 0, bindSeq: 0 }));
  const deadline = performance.now() + seconds * 1000;
  let pushes = 0;
  const t0 = performance.now();
  while (performance.now() < deadline) {
    for (let i = 0; i < 50; i++) {
      actor.send({ type: 'PUSH', now: 2, items });
      actor.send({ type: 'ACK', now: 2, linkId: 1, seq: actor.getSnapshot().context.s.queue.lastSeq });
      pushes += batch;
    }
  }
  const ms = performance.now() - t0;
  actor.stop();
  if (frames !== pushes) throw new Error(`machine sent ${frames} frames for ${pushes} pushes`);
  return { perSec: (pushes * 1000) / ms, usPerPush: (ms * 1000) / pushes };
}

export async function run(opts: RunOptions = {}): Promise<void> {
  const seconds = opts.seconds ?? 3;
  progress('machine: one step per push');
  const single = measure(1, seconds);
  progress('machine: batches of 200 pushes per step');
  const batched = measure(200, seconds);
  table(
    ['row', 'pushes/s', 'µs/push'],
    [
      ['1 push per PUSH event (+ ACK)', single.perSec, single.usPerPush],
      ['200 pushes per PUSH event (+ ACK)', batched.perSec, batched.usPerPush],
    ],
  );
  emitResult({
    scenario: 'machine',
    value: batched.perSec,
    baseline: single.perSec,
    unit: 'pushes/s through the session machine (batched 200 vs one per step)',
    usPerPushSingle: single.usPerPush,
    usPerPushBatched: batched.usPerPush,
  });
}

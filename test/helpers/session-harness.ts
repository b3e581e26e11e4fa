/** Drives the pure session machine with a fake clock and records its effects. */
import { createActor } from 'xstate';
import { createRoutingTable } from '../../src/machines/routing.js';
import {
  type PushResult,
  type SessionConfig,
  type SessionEffect,
  type SessionMachineEvent,
  sessionMachine,
} from '../../src/machines/session-machine.js';
import type { SessionState } from '../../src/machines/session-state.js';
import { NotifySyncHint, PushType } from '../../src/protocol/codes.js';
import { ServerPush } from '../../src/protocol/messages.js';

export const testConfig: SessionConfig = {
  ackTimeoutMs: 1000,
  maxRetries: 3,
  resumeWindowMs: 60_000,
  sessionTimeoutMs: 300_000,
  heartbeatIntervalSec: 30,
  maxQueue: 10,
  maxQueueBytes: 8 * 1024 * 1024,
  maxFrameBytes: 1024 * 1024,
  pushDedupWindowMs: 10 * 60_000,
};

type Distribute<T> = T extends unknown ? Omit<T, 'now'> : never;
export type HarnessEvent = Distribute<SessionMachineEvent>;

export function decodeFrame(frame: Uint8Array): ServerPush {
  return ServerPush.decode(frame.subarray(4));
}

export function harness(config: Partial<SessionConfig> = {}, restored?: SessionState) {
  let now = 1_000;
  const effects: SessionEffect[] = [];
  const routing = createRoutingTable();
  const actor = createActor(sessionMachine, {
    input: {
      sessionId: 'sess-1',
      openid: 'user-1',
      now,
      config: { ...testConfig, ...config },
      route: (a: string) => routing.serviceFor(a),
      restored,
    },
  });
  actor.on('*', (e) => {
    const effect = e as SessionEffect;
    // Replies to producers are carried out at once, as the actor would.
    if (effect.type === 'replies') for (const [reply, result] of effect.replies) reply(result);
    else effects.push(effect);
  });
  actor.start();
  return {
    actor,
    effects,
    get now() {
      return now;
    },
    advance(ms: number) {
      now += ms;
    },
    send(e: HarnessEvent) {
      actor.send({ ...e, now } as SessionMachineEvent);
    },
    /** A BUSINESS request on `linkId` (default the first link). */
    business(seq: number, action: string, msgId = seq, linkId = 1) {
      actor.send({
        type: 'BUSINESS',
        now,
        linkId,
        msgId,
        seq,
        action,
        params: {},
        data: new Uint8Array(),
        headers: {},
      });
    },
    /** A successful upstream answer to `clientSeq`. */
    reply(clientSeq: number, service: string, headers: Record<string, string> = {}, code = 0) {
      actor.send({
        type: 'UPSTREAM_REPLY',
        now,
        clientSeq,
        service,
        response: { code, message: '', data: new Uint8Array(), headers, clientSeqId: clientSeq },
      });
    },
    /** One notify push. */
    push(
      payload: Uint8Array,
      hint: NotifySyncHint = NotifySyncHint.IMMEDIATELY,
      bindSeq = 0,
      reply?: (r: PushResult) => void,
    ) {
      actor.send({ type: 'PUSH', now, items: [{ payload, hint, bindSeq, reply }] });
    },
    /** Effects emitted since the last call. */
    take(): SessionEffect[] {
      return effects.splice(0);
    },
    /** Decoded frames sent since the last call (other effects discarded). */
    frames(): ServerPush[] {
      return effects.splice(0).flatMap((e) => (e.type === 'send' ? e.frames.map(decodeFrame) : []));
    },
    reliableSeqs(pushes: ServerPush[]): number[] {
      return pushes.filter((p) => p.seqId > 0).map((p) => p.seqId);
    },
  };
}

export { PushType };

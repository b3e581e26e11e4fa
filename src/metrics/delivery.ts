/**
 * Delivery metrics fed by what session machines emit: facts (accepted, held,
 * answered, acked) and the effects that say what left (send, close, replies,
 * upstream). Every number comes from the fact itself: no per-session state.
 */
import type { SessionOutput } from '../machines/session-machine.js';
import { CloseCode } from '../protocol/codes.js';
import type { GatewayMetricSet } from './definitions.js';
import type { LatencyWindow } from './window.js';

/** Running totals behind /performance (counters are not read back from prom-client). */
export interface DeliveryTotals {
  requests: number;
  business: number;
  pushes: number;
  frames: number;
  retransmissions: number;
}

const CLOSE_CODE_NAMES: Record<number, string> = Object.fromEntries(
  Object.entries(CloseCode).map(([name, n]) => [n, name.toLowerCase()]),
);

type Inc = { inc(n?: number): void };

export class DeliveryMetrics {
  readonly totals: DeliveryTotals = { requests: 0, business: 0, pushes: 0, frames: 0, retransmissions: 0 };
  // Children resolved once for the hot paths.
  private readonly answerPushes: Inc;
  private readonly notifyPushes: Inc;

  constructor(
    private readonly m: GatewayMetricSet,
    private readonly latency: LatencyWindow,
    private readonly now: () => number,
  ) {
    this.answerPushes = m.pushes.labels('answer');
    this.notifyPushes = m.pushes.labels('notify');
    for (const kind of ['answer', 'notify']) m.pushes.inc({ kind }, 0);
  }

  readonly observe = (output: SessionOutput): void => {
    const m = this.m;
    const totals = this.totals;
    switch (output.type) {
      case 'accepted':
        totals.pushes++;
        (output.kind === 'answer' ? this.answerPushes : this.notifyPushes).inc();
        return;
      case 'held':
        m.heldNotifies.inc();
        return;
      case 'answered':
        if (output.elapsedMs === undefined || output.service === undefined) return;
        m.requestDuration.observe({ service: output.service }, output.elapsedMs / 1000);
        this.latency.add(this.now(), output.elapsedMs);
        return;
      case 'acked':
        if (output.roundTripMs !== null) m.ackRoundTrip.observe(output.roundTripMs / 1000);
        return;
      case 'send': {
        const n = output.frames.length;
        m.framesSent.inc(n);
        totals.frames += n;
        if (output.retransmit) {
          m.retransmissions.inc(n);
          totals.retransmissions += n;
        }
        return;
      }
      case 'upstream':
        totals.business++;
        return;
      case 'replies':
        for (const [, result] of output.replies) {
          if (result.ok) continue;
          m.pushRefusals.inc({ reason: result.errorCode.toLowerCase() });
          if (result.errorCode === 'QUEUE_FULL') m.overloadRefusals.inc({ kind: 'session_queue' });
        }
        return;
      case 'close':
        m.linkCloses.inc({ code: CLOSE_CODE_NAMES[output.code] ?? 'other' });
        return;
      default:
        return;
    }
  };
}

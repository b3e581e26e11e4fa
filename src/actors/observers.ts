/**
 * Hooks for metrics and inspection over the actor system; every one optional and
 * must not throw. Here, not in gateway.ts, so that metrics and the wiring both
 * depend on it and not on each other.
 */
import type { SessionOutput } from '../machines/session-types.js';
import type { SessionLifecycle } from './ports.js';
import type { SessionActor } from './session-actor.js';

export interface GatewayObservers {
  /** Every effect and fact a session machine emits (see SessionFact). */
  onEffect?: (actor: SessionActor, output: SessionOutput) => void;
  onLifecycle?: (event: SessionLifecycle) => void;
  onConnectionChange?: (active: number) => void;
  onRequest?: (type: number) => void;
}

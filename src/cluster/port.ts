/**
 * What the gateway asks of "the other gateways": where session events are
 * stored, whether this one serves, where pushes go, and who else must hear of a
 * session. The in-process default (local.ts) answers for a gateway alone; the
 * NATS one (src/transport/nats/cluster.ts) for a cluster or a primary/backup pair.
 * The wiring talks to this port only, never asking which one it has.
 */
import type { EventLog, PushSink, SessionLifecycle } from '../actors/ports.js';
import type { SessionSystem } from '../actors/session-system.js';

export interface Cluster {
  /** Where session events go, for the start log. */
  readonly eventLogKind: 'in-process' | 'custom' | 'jetstream';
  readonly eventLog: EventLog;
  /** Largest frame one stored event may carry (the log's record limit); Infinity in process. */
  readonly maxRecordBytes: number;
  /** Serves QUIC and pushes now; false while standing by for the serving lease. */
  readonly serving: boolean;
  /** The event log can store now (false: /health degraded, requests refused). */
  readonly storeAvailable: boolean;
  /** Bind the session system built on `eventLog`; before `start`. */
  attach(system: SessionSystem): void;
  /** Producer pushes (gRPC): applied here or sent to the node holding the session. */
  pushSink(): PushSink;
  /** Before a START is bound here: a session another node holds is moved here first. */
  prepareStart(openid: string): Promise<void>;
  onLifecycle(event: SessionLifecycle): void;
  /** A session was dropped after a failed store: its next use here rebuilds it from the log. */
  onSessionFailed(sessionId: string): void;
  /** Serve at once or stand by; `onServingChange` hears every later change. */
  start(onServingChange: (serving: boolean) => void): Promise<void>;
  close(): Promise<void>;
}

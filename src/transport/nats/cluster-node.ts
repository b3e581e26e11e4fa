/**
 * What the parts of a node's NATS wiring share. `system`, `serving` and
 * `closed` are plain fields read at use: they change after the parts are built
 * (the session system is attached later; the lease comes and goes).
 */

import type { JetStreamClient, JetStreamManager, NatsConnection } from 'nats';
import type { Logger } from '../../actors/ports.js';
import type { SessionSystem } from '../../actors/session-system.js';
import type { GatewayConfig } from '../../config/schema.js';
import type { SessionDirectory } from './directory.js';
import type { JetStreamEventLog } from './jetstream-log.js';
import type { NatsNames } from './subjects.js';

export interface ClusterNode {
  readonly cfg: GatewayConfig;
  readonly nc: NatsConnection;
  readonly js: JetStreamClient;
  readonly jsm: JetStreamManager;
  readonly names: NatsNames;
  /** Routing identity: the server id, or `ha` for a primary/backup pair (whoever holds the lease). */
  readonly nodeId: string;
  readonly log: JetStreamEventLog;
  readonly directory: SessionDirectory;
  readonly logger: Logger;
  system: SessionSystem | null;
  serving: boolean;
  /** May accept pushes and requests right now (serving, and its lease cannot have lapsed). */
  accepting(): boolean;
  closed: boolean;
}

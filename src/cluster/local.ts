/**
 * The cluster of one: this gateway always serves, its sessions live in this
 * process and so does their event log (in memory unless a custom one is given).
 */
import type { EventLog, PushSink, SessionLifecycle } from '../actors/ports.js';
import type { SessionSystem } from '../actors/session-system.js';
import { CodedError } from '../errors.js';
import type { Cluster } from './port.js';

export class LocalCluster implements Cluster {
  readonly maxRecordBytes = Number.POSITIVE_INFINITY;
  readonly serving = true;
  readonly storeAvailable = true;
  private system: SessionSystem | null = null;

  constructor(
    readonly eventLog: EventLog,
    readonly eventLogKind: 'in-process' | 'custom',
  ) {}

  attach(system: SessionSystem): void {
    this.system = system;
  }

  pushSink(): PushSink {
    if (!this.system) throw new CodedError('INTERNAL', 'LocalCluster: pushSink() before attach()');
    return this.system;
  }

  prepareStart(_openid: string): Promise<void> {
    return Promise.resolve();
  }

  onLifecycle(_event: SessionLifecycle): void {}

  onSessionFailed(_sessionId: string): void {}

  async start(_onServingChange: (serving: boolean) => void): Promise<void> {}

  async close(): Promise<void> {}
}

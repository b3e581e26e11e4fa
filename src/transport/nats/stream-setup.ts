/**
 * The JetStream streams a node needs, created on first use so a fresh NATS
 * server works without provisioning; an existing stream is left as configured.
 */
import { type JetStreamManager, nanos, RetentionPolicy, StorageType } from 'nats';
import type { NatsNames } from './subjects.js';

export async function ensureStreams(jsm: JetStreamManager, names: NatsNames): Promise<void> {
  await ensureStream(jsm, {
    name: names.eventsStream,
    subjects: [names.eventsAll],
    allow_rollup_hdrs: true,
    duplicate_window: nanos(120_000),
  });
  await ensureStream(jsm, {
    name: names.pushStream,
    subjects: [names.pushAll],
    duplicate_window: nanos(120_000),
    max_age: nanos(24 * 3600_000),
  });
  await ensureStream(jsm, {
    name: names.lifecycleStream,
    subjects: [names.lifecycle('>')],
    max_age: nanos(3600_000),
    max_msgs: 1_000_000,
  });
}

async function ensureStream(
  jsm: JetStreamManager,
  cfg: { name: string; subjects: string[] } & Record<string, unknown>,
): Promise<void> {
  try {
    await jsm.streams.info(cfg.name);
  } catch {
    await jsm.streams.add({
      retention: RetentionPolicy.Limits,
      storage: StorageType.File,
      ...cfg,
    });
  }
}

/**
 * The JetStream streams a node needs, created on first use so a fresh NATS
 * server works without provisioning. An existing stream keeps its settings,
 * except its replica count, which follows `nats.replicas` (a stream created R1
 * before a cluster grew is raised to R3 in place).
 */
import { type JetStreamManager, nanos, RetentionPolicy, StorageType } from 'nats';
import type { NatsNames } from './subjects.js';

export async function ensureStreams(jsm: JetStreamManager, names: NatsNames, replicas = 1): Promise<void> {
  await ensureStream(jsm, replicas, {
    name: names.eventsStream,
    subjects: [names.eventsAll],
    allow_rollup_hdrs: true,
    duplicate_window: nanos(120_000),
  });
  await ensureStream(jsm, replicas, {
    name: names.pushStream,
    subjects: [names.pushAll],
    duplicate_window: nanos(120_000),
    max_age: nanos(24 * 3600_000),
  });
  await ensureStream(jsm, replicas, {
    name: names.lifecycleStream,
    subjects: [names.lifecycle('>')],
    max_age: nanos(3600_000),
    max_msgs: 1_000_000,
  });
}

async function ensureStream(
  jsm: JetStreamManager,
  replicas: number,
  cfg: { name: string; subjects: string[] } & Record<string, unknown>,
): Promise<void> {
  let exists = false;
  try {
    await jsm.streams.info(cfg.name);
    exists = true;
  } catch {
    await jsm.streams.add({
      retention: RetentionPolicy.Limits,
      storage: StorageType.File,
      num_replicas: replicas,
      ...cfg,
    });
  }
  if (exists) await ensureReplicas(jsm, [cfg.name], replicas);
}

/** Streams (KV buckets are streams named KV_<bucket>) get `replicas` if they have another count. */
export async function ensureReplicas(
  jsm: JetStreamManager,
  streams: string[],
  replicas: number,
): Promise<void> {
  for (const name of streams) {
    const info = await jsm.streams.info(name);
    if (info.config.num_replicas !== replicas)
      await jsm.streams.update(name, { ...info.config, num_replicas: replicas });
  }
}

/**
 * Every gateway metric as one declarative table (names follow seed section 6.4.2,
 * gatesvr_*; durations in seconds), and the one place that turns it into
 * prom-client instances. What feeds them lives elsewhere: delivery.ts (session
 * facts), scrape.ts (scrape-time gauges), gateway-metrics.ts (requests, upstream
 * calls, admission).
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export const DURATION_BUCKETS = [
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60,
];

interface MetricDef {
  kind: 'counter' | 'gauge' | 'histogram';
  name: string;
  help: string;
  labelNames?: readonly string[];
}

const counter = (name: string, help: string, labelNames?: readonly string[]) =>
  ({ kind: 'counter', name, help, labelNames }) as const;
const gauge = (name: string, help: string, labelNames?: readonly string[]) =>
  ({ kind: 'gauge', name, help, labelNames }) as const;
const histogram = (name: string, help: string, labelNames?: readonly string[]) =>
  ({ kind: 'histogram', name, help, labelNames }) as const;

export const METRIC_DEFS = {
  // Seed 6.4.2
  activeConnections: gauge(
    'gatesvr_active_connections',
    'Client connections currently open (QUIC session streams).',
  ),
  serving: gauge(
    'gatesvr_serving',
    'Whether this gateway serves (1: it holds the serving lease, or runs alone) or stands by (0).',
  ),
  eventLogAvailable: gauge(
    'gatesvr_event_log_available',
    'Whether the session event log can store now (0: NATS unreachable; /health answers degraded).',
  ),
  totalRequests: counter(
    'gatesvr_total_requests',
    'Client frames accepted, by request type (start, stop, heartbeat, business, ack).',
    ['type'],
  ),
  requestDuration: histogram(
    'gatesvr_request_duration',
    'Seconds from a BUSINESS request going upstream to its answer being queued for the client.',
    ['service'],
  ),
  upstreamRequests: counter(
    'gatesvr_upstream_requests',
    'Upstream calls by service and outcome (ok, app_error, timeout, overloaded, unavailable, error).',
    ['service', 'outcome'],
  ),
  messageQueueSize: gauge(
    'gatesvr_message_queue_size',
    'Reliable pushes queued or awaiting ACK, summed over sessions.',
  ),
  sessionCount: gauge('gatesvr_session_count', 'Live sessions by phase (inited, normal).', ['phase']),
  detachedSessions: gauge(
    'gatesvr_detached_sessions',
    'Live sessions without a connection (resumable within resume_window).',
  ),
  heldNotifiesNow: gauge(
    'gatesvr_held_notifies',
    'Notifies held for an in-flight request (sync hint), summed over sessions.',
  ),
  inflightRequests: gauge(
    'gatesvr_inflight_requests',
    'BUSINESS requests accepted and not answered yet, summed over sessions.',
  ),
  asyncQueueSize: gauge('gatesvr_async_queue_size', 'Upstream calls waiting for a concurrency slot.'),
  asyncInflight: gauge('gatesvr_async_inflight', 'Upstream calls running.'),
  asyncTasksTotal: counter(
    'gatesvr_async_tasks_total',
    'Upstream tasks of the async processor by status (completed, rejected, expired).',
    ['status'],
  ),
  asyncTaskDuration: histogram(
    'gatesvr_async_task_duration',
    'Seconds an upstream call took from submission (queue wait included) to its end.',
    ['service'],
  ),
  serviceDistribution: gauge(
    'gatesvr_service_distribution',
    'Upstream calls in flight per service type (hello, business, zone).',
    ['service'],
  ),
  upstreamEndpointUp: gauge(
    'gatesvr_upstream_endpoint_up',
    '1 when an upstream address is healthy, 0 when it is skipped.',
    ['service', 'address'],
  ),
  // Delivery, sessions, overload
  pushes: counter(
    'gatesvr_pushes_total',
    'Reliable pushes given a seq and queued for delivery (answer, notify).',
    ['kind'],
  ),
  heldNotifies: counter(
    'gatesvr_notifies_held_total',
    'Notifies held back to be ordered around the answer of an in-flight request.',
  ),
  pushRefusals: counter('gatesvr_push_refusals_total', 'Producer pushes refused by a session (queue_full).', [
    'reason',
  ]),
  framesSent: counter(
    'gatesvr_frames_sent_total',
    'Frames written to client connections (reliable and control).',
  ),
  retransmissions: counter(
    'gatesvr_retransmissions_total',
    'Reliable pushes written again on the same connection after ack_timeout.',
  ),
  ackRoundTrip: histogram(
    'gatesvr_ack_round_trip',
    'Seconds from a reliable push leaving to its ACK (one sample per ACK, from a push sent only once).',
  ),
  sessionsCreated: counter('gatesvr_sessions_created_total', 'New sessions started.'),
  sessionsEnded: counter('gatesvr_sessions_ended_total', 'Sessions ended, by reason.', ['reason']),
  resumes: counter(
    'gatesvr_session_resumes_total',
    'Sessions resumed on a new connection after a disconnect.',
  ),
  takeovers: counter(
    'gatesvr_session_takeovers_total',
    'Sessions taken over by a new connection while still attached.',
  ),
  connectionsTotal: counter('gatesvr_connections_total', 'Client connections accepted.'),
  linkCloses: counter(
    'gatesvr_session_link_closes_total',
    'Connections closed by a session, by close code (ack_timeout, session_taken_over, ...).',
    ['code'],
  ),
  overloadRefusals: counter(
    'gatesvr_overload_refusals_total',
    'Work refused by overload protection (connection, request, upstream_queue, session_queue).',
    ['kind'],
  ),
  edgeRefusals: counter(
    'gatesvr_edge_refusals_total',
    'QUIC connections refused or Initials dropped at the edge, by reason (ip_connections, ip_handshakes, handshakes, max_connections, handshake_timeout, retry_token_invalid, pre_start_displaced, pre_start_full, start_timeout, frame_rate).',
    ['reason'],
  ),
  quicRetries: counter(
    'gatesvr_quic_retries_total',
    'Stateless Retry packets sent (address validation, server.retry_above_rate).',
  ),
  quicPackets: counter('gatesvr_quic_packets_total', 'QUIC packets by direction (sent, received, lost).', [
    'direction',
  ]),
  quicBytes: counter('gatesvr_quic_bytes_total', 'QUIC bytes by direction (sent, received).', ['direction']),
} satisfies Record<string, MetricDef>;

type Defs = typeof METRIC_DEFS;
type Instance<D extends MetricDef> = D['kind'] extends 'counter'
  ? Counter<string>
  : D['kind'] extends 'gauge'
    ? Gauge<string>
    : Histogram<string>;
export type GatewayMetricSet = { [K in keyof Defs]: Instance<Defs[K]> };
/** Scrape-time hooks: called with the metric just before it is read. */
export type Collectors = { [K in keyof Defs]?: (metric: Instance<Defs[K]>) => void };

/** One prom-client instance per row of METRIC_DEFS, registered in `registry`. */
export function createMetricSet(registry: Registry, collectors: Collectors): GatewayMetricSet {
  const out: Record<string, unknown> = {};
  for (const [key, def] of Object.entries(METRIC_DEFS) as Array<[keyof Defs, MetricDef]>) {
    const hook = collectors[key] as ((m: unknown) => void) | undefined;
    const common = {
      name: def.name,
      help: def.help,
      labelNames: def.labelNames ?? [],
      registers: [registry],
      ...(hook
        ? {
            collect(this: unknown) {
              hook(this);
            },
          }
        : {}),
    };
    out[key] =
      def.kind === 'counter'
        ? new Counter(common)
        : def.kind === 'gauge'
          ? new Gauge(common)
          : new Histogram({ ...common, buckets: DURATION_BUCKETS });
  }
  return out as GatewayMetricSet;
}

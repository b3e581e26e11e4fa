/**
 * The start_timeout a new connection gets. Idle connections that never send
 * START hold a slot for the whole start_timeout, so when the gateway fills up
 * the allowance shrinks: full start_timeout up to `fromShare` of max_connections,
 * then linearly down to `floorMs` at max_connections. Pure.
 */
export interface StartTimeoutScaling {
  /** Below this share of max_connections the configured start_timeout applies (default 0.5). */
  fromShare?: number;
  /** The allowance at (and beyond) max_connections. */
  floorMs: number;
}

export function effectiveStartTimeoutMs(
  baseMs: number,
  active: number,
  maxConnections: number,
  scaling: StartTimeoutScaling,
): number {
  const floor = Math.min(baseMs, scaling.floorMs);
  if (!(maxConnections > 0) || !Number.isFinite(maxConnections)) return baseMs;
  const from = Math.min(Math.max(scaling.fromShare ?? 0.5, 0), 1);
  const load = active / maxConnections;
  if (load >= 1) return floor;
  if (load <= from) return baseMs;
  const t = (load - from) / (1 - from);
  return Math.round(baseMs - (baseMs - floor) * t);
}

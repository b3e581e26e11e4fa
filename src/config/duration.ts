// Duration strings for config values: "500ms", "30s", "5m", "1h", "1m30s", "1.5s",
// or a plain number of milliseconds (number or numeric string). Results are whole
// milliseconds (fractions are rounded to the nearest millisecond).

export const DURATION_HINT = 'use e.g. "500ms", "30s", "5m"';

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const WHOLE = /^(?:\d+(?:\.\d+)?(?:ms|s|m|h))+$/;
const PART = /(\d+(?:\.\d+)?)(ms|s|m|h)/g;
const PLAIN = /^\d+(?:\.\d+)?$/;

/** Thrown by parseDuration; the loader prefixes it with the key path. */
export class DurationError extends Error {
  override name = 'DurationError';
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (value === null) return 'null';
  if (typeof value === 'object') return Array.isArray(value) ? 'a list' : 'a mapping';
  return String(value);
}

/** Parses a duration to milliseconds. Throws DurationError with a one-line message. */
export function parseDuration(value: unknown): number {
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || value < 0) {
      throw new DurationError(`${describe(value)} is not a duration (${DURATION_HINT})`);
    }
    return Math.round(value);
  }
  if (typeof value !== 'string') {
    throw new DurationError(`${describe(value)} is not a duration (${DURATION_HINT})`);
  }
  const text = value.trim();
  if (PLAIN.test(text)) return Math.round(Number(text));
  if (text === '' || !WHOLE.test(text)) {
    throw new DurationError(`${describe(value)} is not a duration (${DURATION_HINT})`);
  }
  let total = 0;
  for (const m of text.matchAll(PART)) total += Number(m[1]) * UNIT_MS[m[2]!]!;
  if (!Number.isFinite(total)) throw new DurationError(`${describe(value)} is too large`);
  return Math.round(total);
}

/** Formats milliseconds back to the shortest duration string ("90000" -> "1m30s"). */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0s';
  let rest = Math.round(ms);
  let out = '';
  for (const [unit, size] of [
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1000],
  ] as const) {
    if (rest >= size) {
      out += `${Math.floor(rest / size)}${unit}`;
      rest %= size;
    }
  }
  if (rest > 0) out += `${rest}ms`;
  return out;
}

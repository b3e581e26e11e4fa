/** Output helpers shared by benchmark scenarios. */

/** Progress for humans, on stderr (stdout carries only the result line). */
export function progress(msg: string): void {
  process.stderr.write(`[bench] ${msg}\n`);
}

export type Cell = string | number | null | undefined;

function fmt(v: Cell): string {
  if (v === null || v === undefined) return '-';
  if (typeof v === 'string') return v;
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  if (a >= 100) return Math.round(v).toLocaleString('en-US');
  if (a >= 10) return v.toFixed(1);
  return v.toFixed(2);
}

/** A plain aligned table, on stderr. */
export function table(headers: string[], rows: Cell[][]): void {
  const cells = [headers, ...rows.map((r) => r.map(fmt))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) =>
    r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  const out = [line(cells[0]!), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.slice(1).map(line)];
  process.stderr.write(`${out.join('\n')}\n`);
}

export interface BenchResult {
  scenario: string;
  value: number;
  baseline: number;
  unit: string;
  [extra: string]: unknown;
}

/** The one machine-readable line, on stdout. */
export function emitResult(r: BenchResult): void {
  const ratio = r.baseline > 0 ? r.value / r.baseline : null;
  const { scenario, value, baseline, unit, ...rest } = r;
  process.stdout.write(`${JSON.stringify({ scenario, value, baseline, ratio, unit, ...rest })}\n`);
}

export interface RunOptions {
  /** Seconds per measured row (scenarios may scale their work by it). */
  seconds?: number;
  /** Other `--name value` flags, for scenario-specific options (e.g. --sessions 2000). */
  args?: Record<string, string>;
}

/**
 * A hand-written SVG chart (no dependencies): throughput and p99 latency
 * against the number of sessions, gateway vs direct, on a log x axis.
 */

export interface SessionsPoint {
  sessions: number;
  gatewayRate: number;
  directRate: number;
  gatewayP99: number;
  directP99: number;
}

interface Series {
  name: string;
  color: string;
  dash: string;
  values: number[];
}

const W = 960;
const H = 400;
const PANEL_W = 370;
const PANEL_H = 260;
const TOP = 70;
const LEFTS = [80, 550];

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** 1, 2, 5 x 10^k steps giving about `n` ticks from 0 to max. */
function niceTicks(max: number, n = 5): number[] {
  if (!(max > 0)) return [0, 1];
  const raw = max / n;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const out: number[] = [];
  for (let v = 0; v <= max + step * 0.999; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

function label(v: number): string {
  if (v >= 1000) return `${Number((v / 1000).toPrecision(3))}k`;
  return String(Number(v.toPrecision(3)));
}

function panel(left: number, title: string, unit: string, xs: number[], series: Series[]): string {
  const lx = xs.map((x) => Math.log10(x));
  const xmin = Math.min(...lx);
  const xmax = Math.max(...lx);
  const xspan = xmax - xmin || 1;
  const padX = 24;
  const px = (x: number) => left + padX + ((Math.log10(x) - xmin) / xspan) * (PANEL_W - 2 * padX);
  const ymaxData = Math.max(...series.flatMap((s) => s.values.filter(Number.isFinite)));
  const ticks = niceTicks(ymaxData * 1.1);
  const ymax = ticks[ticks.length - 1]!;
  const py = (y: number) => TOP + PANEL_H - (y / ymax) * PANEL_H;
  const parts: string[] = [];
  parts.push(
    `<text x="${left + PANEL_W / 2}" y="${TOP - 14}" text-anchor="middle" font-size="14" font-weight="bold">${esc(title)}</text>`,
  );
  for (const t of ticks) {
    const y = py(t).toFixed(1);
    parts.push(`<line x1="${left}" y1="${y}" x2="${left + PANEL_W}" y2="${y}" stroke="#e4e4e4"/>`);
    parts.push(
      `<text x="${left - 6}" y="${y}" text-anchor="end" dominant-baseline="middle" font-size="11">${label(t)}</text>`,
    );
  }
  for (const x of xs) {
    const X = px(x).toFixed(1);
    parts.push(`<line x1="${X}" y1="${TOP}" x2="${X}" y2="${TOP + PANEL_H}" stroke="#f0f0f0"/>`);
    parts.push(
      `<text x="${X}" y="${TOP + PANEL_H + 16}" text-anchor="middle" font-size="11">${label(x)}</text>`,
    );
  }
  parts.push(
    `<rect x="${left}" y="${TOP}" width="${PANEL_W}" height="${PANEL_H}" fill="none" stroke="#888"/>`,
  );
  parts.push(
    `<text x="${left + PANEL_W / 2}" y="${TOP + PANEL_H + 34}" text-anchor="middle" font-size="12">sessions (log scale)</text>`,
  );
  parts.push(
    `<text transform="translate(${left - 52},${TOP + PANEL_H / 2}) rotate(-90)" text-anchor="middle" font-size="12">${esc(unit)}</text>`,
  );
  for (const s of series) {
    const pts = xs.map((x, i) => `${px(x).toFixed(1)},${py(s.values[i]!).toFixed(1)}`);
    parts.push(
      `<polyline points="${pts.join(' ')}" fill="none" stroke="${s.color}" stroke-width="2.5" stroke-dasharray="${s.dash}"/>`,
    );
    xs.forEach((x, i) => {
      const v = s.values[i]!;
      const X = px(x);
      const Y = py(v);
      parts.push(`<circle cx="${X.toFixed(1)}" cy="${Y.toFixed(1)}" r="4" fill="${s.color}"/>`);
      parts.push(
        `<text x="${(X + 6).toFixed(1)}" y="${(Y - 7).toFixed(1)}" font-size="10" fill="${s.color}">${label(v)}</text>`,
      );
    });
  }
  return parts.join('\n');
}

export function sessionsPlot(o: { title: string; points: SessionsPoint[] }): string {
  const pts = [...o.points].sort((a, b) => a.sessions - b.sessions);
  const xs = pts.map((p) => p.sessions);
  const gw = { name: 'gateway', color: '#1f6fb4', dash: '' };
  const di = { name: 'direct grpc-js', color: '#e07b1a', dash: '6 4' };
  const body = [
    panel(LEFTS[0]!, 'Throughput', 'requests / s', xs, [
      { ...gw, values: pts.map((p) => p.gatewayRate) },
      { ...di, values: pts.map((p) => p.directRate) },
    ]),
    panel(LEFTS[1]!, 'p99 latency', 'ms', xs, [
      { ...gw, values: pts.map((p) => p.gatewayP99) },
      { ...di, values: pts.map((p) => p.directP99) },
    ]),
  ];
  const legendY = H - 22;
  const legend = [gw, di]
    .map((s, i) => {
      const x = 320 + i * 200;
      return `<line x1="${x}" y1="${legendY}" x2="${x + 30}" y2="${legendY}" stroke="${s.color}" stroke-width="2.5" stroke-dasharray="${s.dash}"/><text x="${x + 36}" y="${legendY}" dominant-baseline="middle" font-size="12">${esc(s.name)}</text>`;
    })
    .join('\n');
  return `<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="Helvetica, Arial, sans-serif">
<rect width="${W}" height="${H}" fill="#ffffff"/>
<text x="${W / 2}" y="24" text-anchor="middle" font-size="15">${esc(o.title)}</text>
<text x="${W / 2}" y="42" text-anchor="middle" font-size="11" fill="#555">direct rows keep the same number of calls in flight (1x32, 100x4, 1000x1)</text>
${body.join('\n')}
${legend}
</svg>
`;
}

/**
 * Top self-time functions of a V8 .cpuprofile (from `--cpu-prof`):
 *   npx tsx bench/lib/profile-summary.ts FILE|DIR [TOP]
 * With a directory, the profile with the most non-idle time (the main thread)
 * is used. Self time per function (name + file:line), and grouped by file;
 * percentages are of non-idle time.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}
interface Profile {
  nodes: Node[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileEntry {
  name: string;
  where: string;
  selfMs: number;
  pct: number;
}

function shortUrl(url: string): string {
  const i = url.indexOf('/node_modules/');
  if (i >= 0) return url.slice(i + 1);
  const j = url.search(/\/(src|bench|test)\//);
  if (j >= 0) return url.slice(j + 1);
  return url.replace(/^file:\/\//, '') || '(native)';
}

export function summarize(file: string): { total: number; byFn: ProfileEntry[]; byFile: ProfileEntry[] } {
  const p = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  for (let i = 0; i < p.samples.length; i++) {
    const dt = p.timeDeltas[i + 1] ?? 0;
    self.set(p.samples[i]!, (self.get(p.samples[i]!) ?? 0) + dt);
  }
  let total = 0;
  const fn = new Map<string, ProfileEntry>();
  const files = new Map<string, ProfileEntry>();
  for (const [id, us] of self) {
    const n = byId.get(id)!;
    const cf = n.callFrame;
    if (cf.functionName === '(idle)') continue;
    total += us;
    const name = cf.functionName || '(anonymous)';
    const where = cf.url ? `${shortUrl(cf.url)}:${cf.lineNumber + 1}` : '';
    const key = `${name}@${where}`;
    const e = fn.get(key) ?? { name, where, selfMs: 0, pct: 0 };
    e.selfMs += us / 1000;
    fn.set(key, e);
    const fk = cf.url ? shortUrl(cf.url).replace(/^node_modules\/((@[^/]+\/)?[^/]+)\/.*/, '$1') : name;
    const f = files.get(fk) ?? { name: fk, where: '', selfMs: 0, pct: 0 };
    f.selfMs += us / 1000;
    files.set(fk, f);
  }
  const fin = (m: Map<string, ProfileEntry>) =>
    [...m.values()]
      .map((e) => ({ ...e, pct: (100 * e.selfMs * 1000) / total }))
      .sort((a, b) => b.selfMs - a.selfMs);
  return { total: total / 1000, byFn: fin(fn), byFile: fin(files) };
}

/** The busiest profile of a directory (or the file itself). */
export function pickProfile(path: string): string {
  if (!statSync(path).isDirectory()) return path;
  const files = readdirSync(path)
    .filter((f) => f.endsWith('.cpuprofile'))
    .map((f) => join(path, f));
  if (files.length === 0) throw new Error(`no .cpuprofile in ${path}`);
  return files.map((f) => ({ f, busy: summarize(f).total })).sort((a, b) => b.busy - a.busy)[0]!.f;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const file = process.argv[2] ? pickProfile(process.argv[2]) : undefined;
  const top = Number(process.argv[3] ?? 25);
  if (!file) {
    process.stderr.write('usage: tsx bench/lib/profile-summary.ts FILE [TOP]\n');
    process.exit(2);
  }
  const s = summarize(file);
  const out: string[] = [
    `${file}: busy ${s.total.toFixed(0)} ms (idle excluded)`,
    '',
    '| self % | self ms | function | where |',
    '|---:|---:|---|---|',
  ];
  for (const e of s.byFn.slice(0, top))
    out.push(`| ${e.pct.toFixed(1)} | ${e.selfMs.toFixed(0)} | ${e.name} | ${e.where} |`);
  out.push('', '| self % | self ms | file / package |', '|---:|---:|---|');
  for (const e of s.byFile.slice(0, 15))
    out.push(`| ${e.pct.toFixed(1)} | ${e.selfMs.toFixed(0)} | ${e.name} |`);
  process.stdout.write(`${out.join('\n')}\n`);
}

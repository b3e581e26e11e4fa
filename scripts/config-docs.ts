// Generates the key and flag tables of docs/configuration.md from the config schema
// (src/config/schema.ts): `npm run docs:config` rewrites the text between the
// markers; test/unit/config-docs.test.ts fails while the doc and the schema differ.

import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { formatDuration } from '../src/config/duration.js';
import { DEFAULTS, FIELDS, type FieldKind, type FieldSpec, getProp } from '../src/config/schema.js';

export const DOC_FILE = fileURLToPath(new URL('../docs/configuration.md', import.meta.url));

/** Each kind's name in the tables; the "Value syntax" table of the doc explains them. */
const KIND_NAMES: Record<FieldKind, string> = {
  addr: 'address',
  hostList: 'list of host:port',
  nameList: 'list of host names',
  routes: 'map action→service',
  string: 'string',
  path: 'path',
  secret: 'string (secret)',
  name: 'name',
  subject: 'subject prefix',
  natsUrl: 'NATS URL(s)',
  duration: 'duration',
  int: 'integer',
  bool: 'boolean',
  enum: 'enum',
};

const FLAG_ARG: Partial<Record<FieldKind, string>> = {
  addr: 'ADDR',
  path: 'FILE',
  natsUrl: 'URL',
  name: 'ID',
};

/** 10000000 -> 10_000_000, as a number is written in the YAML or TypeScript. */
const grouped = (n: number) => (n < 1000 ? String(n) : n.toLocaleString('en-US').replaceAll(',', '_'));

function shownDefault(s: FieldSpec): string {
  const v = getProp(DEFAULTS, s.prop);
  return `\`${s.kind === 'duration' ? JSON.stringify(formatDuration(v as number)) : JSON.stringify(v)}\``;
}

function range(s: FieldSpec): string {
  if (s.values) return s.values.join(' \\| ');
  if (s.min === undefined || s.max === undefined) return '';
  const f = s.kind === 'duration' ? formatDuration : grouped;
  return `${f(s.min)} .. ${f(s.max)}`;
}

function keyRow(s: FieldSpec): string {
  const env = s.env.map((n) => `\`${n}\``).join('<br>');
  const flag = s.flag ? `\`--${s.flag}\`` : '';
  const meaning = `${s.compat ? '*(compat)* ' : ''}${s.doc}`;
  return `| \`${s.path}\` | ${KIND_NAMES[s.kind]} | ${shownDefault(s)} | ${range(s)} | ${env} | ${flag} | ${meaning} |`;
}

/** One table per top-level section, in schema order. */
export function keyTables(): string {
  const sections = [...new Set(FIELDS.map((s) => s.path.split('.')[0]!))];
  return sections
    .map((section) =>
      [
        `### \`${section}\``,
        '',
        '| key | type | default | range / values | env | flag | meaning |',
        '|---|---|---|---|---|---|---|',
        ...FIELDS.filter((s) => s.path.startsWith(`${section}.`)).map(keyRow),
      ].join('\n'),
    )
    .join('\n\n');
}

function flagArg(s: FieldSpec): string {
  if (!s.values) return FLAG_ARG[s.kind] ?? 'VALUE';
  return s.values.length <= 3 ? s.values.join('\\|') : s.path.split('.').pop()!.toUpperCase();
}

export function flagTable(): string {
  const rows = FIELDS.filter((s) => s.flag).map((s) =>
    s.kind === 'bool'
      ? `| \`--${s.flag}\` | \`${s.path}: true\` |`
      : `| \`--${s.flag} ${flagArg(s)}\` | \`${s.path}\` |`,
  );
  return [
    '| flag | sets |',
    '|---|---|',
    '| `--config FILE`, `-c FILE` | the YAML file |',
    '| `--set key.path=value` | any key (repeatable; value in the environment syntax) |',
    ...rows,
  ].join('\n');
}

const marker = (name: string, end: boolean) =>
  `<!-- ${end ? 'END' : 'BEGIN'} generated ${name}: npm run docs:config (from src/config/schema.ts) -->`;

/** The doc with the text between each pair of markers replaced by the generated table. */
export function renderDoc(doc: string): string {
  let out = doc;
  for (const [name, body] of [
    ['flags', flagTable()],
    ['keys', keyTables()],
  ] as const) {
    const [begin, end] = [marker(name, false), marker(name, true)];
    const from = out.indexOf(begin);
    const to = out.indexOf(end);
    if (from < 0 || to < from) throw new Error(`${DOC_FILE}: markers for the ${name} table are missing`);
    out = `${out.slice(0, from + begin.length)}\n\n${body}\n\n${out.slice(to)}`;
  }
  return out;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const doc = readFileSync(DOC_FILE, 'utf8');
  const next = renderDoc(doc);
  if (next !== doc) writeFileSync(DOC_FILE, next);
  process.stdout.write(`${DOC_FILE}: ${next === doc ? 'up to date' : 'updated'}\n`);
}

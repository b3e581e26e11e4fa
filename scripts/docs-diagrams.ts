/**
 * `npm run docs:diagrams`: rewrites the generated session statechart in
 * docs/architecture.md from the machine definition. `--check` only compares and
 * exits 1 when the document is stale (test/unit/docs-diagrams.test.ts does the same).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { sessionMachine } from '../src/machines/session-machine.js';
import { replaceSection, statechartMermaid, transitionTable } from './statechart-mermaid.js';

export const ARCHITECTURE_DOC = new URL('../docs/architecture.md', import.meta.url);
export const SECTION = 'session-statechart';

/** docs/architecture.md as it should be: the section between the markers regenerated. */
export function regenerated(doc: string): string {
  const body = [
    '```mermaid',
    statechartMermaid(sessionMachine).trimEnd(),
    '```',
    '',
    'Every transition, in priority order (for one state and event, the first guard that holds wins):',
    '',
    transitionTable(sessionMachine),
  ].join('\n');
  return replaceSection(doc, SECTION, body);
}

if (import.meta.url === new URL(process.argv[1] ?? '', 'file://').href) {
  const doc = readFileSync(ARCHITECTURE_DOC, 'utf8');
  const next = regenerated(doc);
  if (process.argv.includes('--check')) {
    if (next !== doc) {
      process.stderr.write(
        'docs/architecture.md: the session statechart is stale; run npm run docs:diagrams\n',
      );
      process.exit(1);
    }
  } else if (next !== doc) writeFileSync(ARCHITECTURE_DOC, next);
}

/**
 * Module layering of src/: no import cycles (type-only imports count too: a
 * cycle of types still ties two modules into one), and the folder rules of
 * docs/architecture.md that imports can break. A small walk over the imports
 * TypeScript itself reads, so no extra dependency.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const SRC = resolve(dirname(fileURLToPath(import.meta.url)), '../../src');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return e.name === 'gen' ? [] : sourceFiles(p);
    return e.name.endsWith('.ts') ? [p] : [];
  });
}

/** File -> the src files it imports or re-exports from (relative specifiers only). */
function importGraph(files: readonly string[]): Map<string, string[]> {
  const known = new Set(files);
  const graph = new Map<string, string[]>();
  for (const file of files) {
    const info = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
    const deps = info.importedFiles
      .map((f) => f.fileName)
      .filter((spec) => spec.startsWith('.'))
      .map((spec) => resolve(dirname(file), spec.replace(/\.js$/, '.ts')))
      .filter((p) => known.has(p));
    graph.set(file, [...new Set(deps)]);
  }
  return graph;
}

/** Every cycle found by a depth-first walk, each as the path that closes it. */
export function findCycles(graph: ReadonlyMap<string, readonly string[]>): string[][] {
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const cycles: string[][] = [];
  const visit = (node: string): void => {
    state.set(node, 'open');
    stack.push(node);
    for (const next of graph.get(node) ?? []) {
      const s = state.get(next);
      if (s === 'open') cycles.push([...stack.slice(stack.indexOf(next)), next]);
      else if (s === undefined) visit(next);
    }
    stack.pop();
    state.set(node, 'done');
  };
  for (const node of graph.keys()) if (!state.has(node)) visit(node);
  return cycles;
}

const graph = importGraph(sourceFiles(SRC));
const rel = (p: string): string => relative(SRC, p);

describe('import graph of src/', () => {
  it('finds a cycle when there is one (the check itself works)', () => {
    const g = new Map([
      ['a', ['b']],
      ['b', ['c']],
      ['c', ['a']],
      ['d', ['a']],
    ]);
    assert.deepEqual(findCycles(g), [['a', 'b', 'c', 'a']]);
    assert.deepEqual(
      findCycles(
        new Map([
          ['a', ['b']],
          ['b', []],
        ]),
      ),
      [],
    );
  });

  it('reads the imports of src (type-only and re-exports included)', () => {
    const gateway = graph.get(join(SRC, 'gateway.ts')) ?? [];
    assert.ok(gateway.includes(join(SRC, 'wiring/core.ts')), 'gateway.ts imports wiring/core.ts');
    assert.ok(gateway.includes(join(SRC, 'actors/observers.ts')), 'a type-only re-export counts');
  });

  it('has no import cycles', () => {
    const cycles = findCycles(graph).map((c) => c.map(rel).join(' -> '));
    assert.deepEqual(cycles, []);
  });

  it('keeps transport/nats off transport/grpc (shared push rules live in transport/push-requests.ts)', () => {
    const offending = [...graph]
      .filter(([file]) => rel(file).startsWith('transport/nats/'))
      .flatMap(([file, deps]) =>
        deps.filter((d) => rel(d).startsWith('transport/grpc/')).map((d) => `${rel(file)} -> ${rel(d)}`),
      );
    assert.deepEqual(offending, []);
  });
});

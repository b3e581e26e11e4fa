/**
 * Benchmark entry: `npm run bench -- <scenario> [--seconds N]`, or `all`.
 * Each scenario is a module bench/<name>.ts exporting `run(opts)`; it prints
 * progress and a table on stderr and one JSON result line on stdout.
 */
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { progress, type RunOptions } from './lib/report.js';

interface Scenario {
  run(opts: RunOptions): Promise<void>;
  /** The scenario's own options, for `--help`. */
  usage?: string;
}

const dir = fileURLToPath(new URL('.', import.meta.url));
/** Scripts in bench/ with their own npm entry that run on import (load.ts: `npm run load`). */
const NOT_SCENARIOS = new Set(['main.ts', 'load.ts']);
const available = readdirSync(dir)
  .filter((f) => f.endsWith('.ts') && !NOT_SCENARIOS.has(f) && !f.endsWith('.d.ts'))
  .map((f) => f.slice(0, -3))
  .sort();

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const usage = `usage: npm run bench -- <${[...available, 'all'].join('|')}> [--seconds N] [--<option> V]\n`;
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(usage);
    for (const name of args.filter((a) => available.includes(a))) {
      const mod = (await import(`./${name}.ts`)) as Partial<Scenario>;
      process.stdout.write(`\n${name}: ${mod.usage ?? 'no options beyond --seconds'}\n`);
    }
    return;
  }
  const opts: RunOptions = {};
  const names: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--seconds') opts.seconds = Number(args[++i]);
    else if (a.startsWith('--')) {
      opts.args ??= {};
      // A flag with no value (`--quick`, or followed by another flag) is ''.
      const v = args[i + 1];
      opts.args[a.slice(2)] = v === undefined || v.startsWith('--') ? '' : (args[++i] ?? '');
    } else names.push(a);
  }
  if (names.length === 0) {
    process.stderr.write(usage);
    process.exit(2);
  }
  const todo = names.includes('all') ? available : names;
  for (const name of todo) {
    if (!available.includes(name)) {
      process.stderr.write(`unknown scenario '${name}' (have: ${available.join(', ')}, all)\n`);
      process.exit(2);
    }
    progress(`scenario ${name}`);
    const mod = (await import(`./${name}.ts`)) as Partial<Scenario>;
    if (typeof mod.run !== 'function') {
      // bench/ also holds scripts with their own entry (e.g. load.ts, `npm run load`).
      progress(`${name}: not a scenario (no run export), skipped`);
      continue;
    }
    await mod.run(opts);
  }
}

main().then(
  () => process.exit(0),
  (e) => {
    process.stderr.write(`${(e as Error).stack ?? e}\n`);
    process.exit(1);
  },
);

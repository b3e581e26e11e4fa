#!/usr/bin/env node
// Runs the test suite with node:test over TypeScript (tsx). Usage:
//   node scripts/run-tests.mjs [unit|integration|<file filter>...]
// Unit tests run first and in parallel; integration tests start real servers
// (QUIC, gRPC, nats-server) on free ports and run two files at a time.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const filters = process.argv.slice(2);

function list(dir) {
  const out = [];
  for (const name of readdirSync(join(root, dir)).sort()) {
    const p = join(dir, name);
    if (statSync(join(root, p)).isDirectory()) out.push(...list(p));
    else if (name.endsWith('.test.ts')) out.push(p);
  }
  return out;
}

const suites = [
  { name: 'unit', files: list('test/unit'), concurrency: 2 },
  { name: 'integration', files: list('test/integration'), concurrency: 2 },
];

// The protobuf code in src/gen/ is generated, not committed (a no-op when up to date).
const gen = spawnSync(process.execPath, [join(root, 'scripts/generate.mjs')], {
  cwd: root,
  stdio: 'inherit',
});
if (gen.status !== 0) process.exit(1);

let failed = false;
for (const suite of suites) {
  let files = suite.files;
  if (filters.length > 0 && !filters.includes(suite.name)) {
    if (filters.some((f) => f === 'unit' || f === 'integration')) continue;
    files = files.filter((f) => filters.some((flt) => f.includes(flt)));
  }
  if (files.length === 0) continue;
  console.log(`\n# ${suite.name}: ${files.length} files`);
  const res = spawnSync(
    process.execPath,
    [
      '--import',
      'tsx',
      '--test',
      `--test-concurrency=${suite.concurrency}`,
      '--test-reporter=spec',
      ...files,
    ],
    {
      cwd: root,
      stdio: 'inherit',
      env: { ...process.env, GATESVR_LOG_LEVEL: process.env.GATESVR_LOG_LEVEL ?? 'silent' },
    },
  );
  if (res.status !== 0) failed = true;
}
process.exit(failed ? 1 : 0);

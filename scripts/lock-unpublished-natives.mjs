#!/usr/bin/env node
// @matrixai/quic 2.0.9 lists optional native packages for darwin and win32 that
// were never published at that version (only @matrixai/quic-linux-x64 exists).
// `npm install` skips them silently and leaves them out of package-lock.json, but
// `npm ci` (npm 11.16 and later, npm/cli#9846) then refuses that same lock file:
// "Missing: @matrixai/quic-darwin-arm64@ from lock file". This records them as
// optional, platform-bound entries, which `npm ci` skips on Linux without fetching.
//
// The package ships it as the `gatesvr-lock-natives` bin: a project that depends
// on gatesvr runs it after each `npm install` that rewrites its lock file (e.g. as
// its own "postinstall" script). In this repository: `npm run lock-natives` after
// an `npm install` that changed package-lock.json.
//
//   gatesvr-lock-natives [path/to/package-lock.json]   (default: ./package-lock.json)
import { readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';

const QUIC = '@matrixai/quic';
const path = resolve(process.argv[2] ?? 'package-lock.json');
let lock;
try {
  lock = JSON.parse(readFileSync(path, 'utf8'));
} catch (cause) {
  console.error(`gatesvr-lock-natives: cannot read ${path}: ${cause.message}`);
  process.exit(1);
}
const platforms = {
  'darwin-arm64': { os: ['darwin'], cpu: ['arm64'] },
  'darwin-universal': { os: ['darwin'], cpu: ['x64', 'arm64'] },
  'darwin-x64': { os: ['darwin'], cpu: ['x64'] },
  'win32-x64': { os: ['win32'], cpu: ['x64'] },
  'linux-x64': null,
};
// Every copy of the package: hoisted (node_modules/@matrixai/quic) or nested under
// another package; its natives are looked up beside it.
const quics = Object.keys(lock.packages ?? {}).filter((k) => k.endsWith(`node_modules/${QUIC}`));
if (quics.length === 0) {
  console.error(`gatesvr-lock-natives: ${QUIC} is not in ${path}`);
  process.exit(1);
}
let added = 0;
for (const key of quics) {
  const dir = key.slice(0, -QUIC.length);
  for (const [name, version] of Object.entries(lock.packages[key].optionalDependencies ?? {})) {
    const platform = platforms[name.replace(`${QUIC}-`, '')];
    if (lock.packages[dir + name] || !platform) continue;
    lock.packages[dir + name] = { version, optional: true, ...platform };
    added++;
  }
}
lock.packages = Object.fromEntries(
  Object.entries(lock.packages).sort(([a], [b]) => (a === '' ? -1 : b === '' ? 1 : a.localeCompare(b))),
);
writeFileSync(path, `${JSON.stringify(lock, null, 2)}\n`);
console.log(`${path}: ${added} unpublished optional natives recorded`);

#!/usr/bin/env node
// @matrixai/quic 2.0.9 lists optional native packages for darwin and win32 that
// were never published (only @matrixai/quic-linux-x64 exists). `npm install`
// skips them silently, but `npm ci` then refuses the lock file as out of sync.
// This records them in package-lock.json as optional, platform-bound entries,
// which `npm ci` skips on Linux without fetching. Run after `npm install`
// changes the lock file.
import { readFileSync, writeFileSync } from 'node:fs';

const path = new URL('../package-lock.json', import.meta.url);
const lock = JSON.parse(readFileSync(path, 'utf8'));
const quic = lock.packages['node_modules/@matrixai/quic'];
if (!quic) throw new Error('@matrixai/quic is not in package-lock.json');
const platforms = {
  'darwin-arm64': { os: ['darwin'], cpu: ['arm64'] },
  'darwin-universal': { os: ['darwin'], cpu: ['x64', 'arm64'] },
  'darwin-x64': { os: ['darwin'], cpu: ['x64'] },
  'win32-x64': { os: ['win32'], cpu: ['x64'] },
  'linux-x64': null,
};
let added = 0;
for (const [name, version] of Object.entries(quic.optionalDependencies ?? {})) {
  const key = `node_modules/${name}`;
  const platform = platforms[name.replace('@matrixai/quic-', '')];
  if (lock.packages[key] || !platform) continue;
  lock.packages[key] = { version, optional: true, ...platform };
  added++;
}
const sorted = Object.fromEntries(
  Object.entries(lock.packages).sort(([a], [b]) => (a === '' ? -1 : b === '' ? 1 : a.localeCompare(b))),
);
lock.packages = sorted;
writeFileSync(path, `${JSON.stringify(lock, null, 2)}\n`);
console.log(`package-lock.json: ${added} unpublished optional natives recorded`);

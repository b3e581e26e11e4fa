#!/usr/bin/env node
// Generates the protobuf code from proto/*.proto into src/gen/ (git-ignored): protobufjs-cli's
// static module (proto.js, encoders/decoders and service method descriptors, no reflection at
// run time) and its TypeScript declarations (proto.d.ts). Run by the npm scripts that need it
// (prelint, pretest, prebuild, prestart, prebench, ...) and by scripts/run-tests.mjs.
//   node scripts/generate.mjs           generate when proto/ or the generator changed (stamp)
//   node scripts/generate.mjs --force   generate anyway
//   node scripts/generate.mjs --dist    also copy src/gen/ into dist/src/gen/ (after tsc: it
//                                        does not copy .js files into the build)
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const protoDir = join(root, 'proto');
const out = join(root, 'src/gen');
const OUTPUTS = ['proto.js', 'proto.d.ts'];
const STAMP = '.stamp';

const require = createRequire(import.meta.url);
function resolveCli() {
  try {
    return require.resolve('protobufjs-cli/package.json');
  } catch (cause) {
    throw new Error('generate: protobufjs-cli is not installed (a dev dependency): run `npm ci`', { cause });
  }
}
const cliPkg = resolveCli();
const pbjs = join(cliPkg, '..', 'bin', 'pbjs');

const protos = readdirSync(protoDir)
  .filter((f) => f.endsWith('.proto'))
  .sort()
  .map((f) => join('proto', f));
// --force-number: 64-bit fields are JS numbers (seqs stay below 2^53). --no-create/verify/convert/
// delimited/typeurl: the gateway only encodes and decodes, so those helpers would be dead code.
const ARGS = [
  '-t',
  'static-module',
  '-w',
  'esm',
  '--force-number',
  '--no-create',
  '--no-verify',
  '--no-convert',
  '--no-delimited',
  '--no-typeurl',
  '-d',
];

function stamp() {
  const h = createHash('sha256');
  h.update(JSON.parse(readFileSync(cliPkg, 'utf8')).version);
  h.update(JSON.parse(readFileSync(require.resolve('protobufjs/package.json'), 'utf8')).version);
  h.update(ARGS.join(' '));
  h.update(numbersNotLongs.toString());
  for (const p of protos) h.update(p).update(readFileSync(join(root, p)));
  return h.digest('hex');
}

function upToDate(want) {
  if (!OUTPUTS.every((f) => existsSync(join(out, f)))) return false;
  try {
    return readFileSync(join(out, STAMP), 'utf8') === want;
  } catch {
    return false;
  }
}

/**
 * 64-bit fields as JS numbers (--force-number only types them so): the runtime must be told before
 * the module builds its prototypes, whose 64-bit defaults are Long objects otherwise. Done inside the
 * generated module so that no importer can see it unconfigured.
 */
function numbersNotLongs(file) {
  const anchor = 'import $protobuf from "protobufjs/minimal.js";\n';
  const js = readFileSync(file, 'utf8');
  if (!js.includes(anchor)) throw new Error(`generate: ${anchor.trim()} not found in pbjs output`);
  const config =
    '// scripts/generate.mjs: 64-bit fields decode to numbers (seqs stay below 2^53).\n' +
    '$protobuf.util.Long = undefined;\n$protobuf.configure();\n';
  writeFileSync(file, js.replace(anchor, anchor + config));
}

function generate(want) {
  mkdirSync(out, { recursive: true });
  // Generate beside the output and rename into place: concurrent runs (two test processes) never
  // see a half-written file.
  const tmp = mkdtempSync(join(out, '.tmp-'));
  try {
    const res = spawnSync(process.execPath, [pbjs, ...ARGS, '-o', join(tmp, 'proto.js'), ...protos], {
      cwd: root,
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    if (res.status !== 0) throw new Error(`pbjs failed (exit ${res.status ?? res.signal})`);
    numbersNotLongs(join(tmp, 'proto.js'));
    for (const f of OUTPUTS) renameSync(join(tmp, f), join(out, f));
    writeFileSync(join(out, STAMP), want);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

const want = stamp();
if (process.argv.includes('--force') || !upToDate(want)) {
  generate(want);
  console.error(`generate: ${protos.join(', ')} -> src/gen/{${OUTPUTS.join(',')}}`);
}
if (process.argv.includes('--dist')) {
  const dist = join(root, 'dist/src/gen');
  mkdirSync(dist, { recursive: true });
  for (const f of OUTPUTS) copyFileSync(join(out, f), join(dist, f));
}

/**
 * Scenario `codec`: encode and decode ops/s of the hot messages (ClientRequest, a ServerPush
 * carrying a NotifyMessage, UnicastPushRequest, UpstreamRequest/Response) with every protobuf
 * implementation at hand, in one process and one run:
 *   protobufjs-reflect  protobufjs loading proto/*.proto at run time (the codec before src/gen)
 *   pbjs-static         src/protocol/messages.ts over protobufjs-cli's static code in src/gen
 *   ts-proto            ts-proto 2 (@bufbuild/protobuf/wire runtime), if installed
 *   protobuf-es         @bufbuild/protoc-gen-es 2, if installed (64-bit fields as bigint)
 * The last two are generated into .tmp/codec-bench/ with @bufbuild/buf on each run and skipped with
 * a note when missing: `npm i --no-save @bufbuild/buf ts-proto @bufbuild/protoc-gen-es
 * @bufbuild/protobuf` brings them (not project dependencies: they lost, see docs/benchmarks.md).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { emitResult, progress, type RunOptions, table } from './lib/report.js';

export const usage =
  '--seconds S: seconds per cell and round (default 0.3); --rounds N (default 3, best kept)';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const TMP = join(ROOT, '.tmp/codec-bench');
const BIN = join(ROOT, 'node_modules/.bin');

const MESSAGES = [
  'ClientRequest',
  'NotifyMessage',
  'ServerPush',
  'UnicastPushRequest',
  'UpstreamRequest',
  'UpstreamResponse',
] as const;
type MsgName = (typeof MESSAGES)[number];
type Plain = Record<string, unknown>;

/** One implementation: encode a plain object, decode bytes, per message. */
interface Impl {
  name: string;
  encode(msg: MsgName, value: Plain): Uint8Array;
  decode(msg: MsgName, bytes: Uint8Array): unknown;
  /** Converts a fixture to this implementation's input shape (protobuf-es wants bigint). */
  prepare?(msg: MsgName, value: Plain): Plain;
}

const payload = new Uint8Array(256).map((_, i) => i & 0xff);
const notify: Plain = {
  msgType: 'chat.message',
  title: 'New message',
  content: 'hello from the bench, a short notification body',
  data: new Uint8Array(128).fill(7),
  metadata: { room: 'r-42', sender: 'alice' },
  broadcast: false,
};
const FIXTURES: Record<Exclude<MsgName, 'ServerPush'>, Plain> = {
  ClientRequest: {
    msgId: 1234,
    seqId: 98_765,
    type: 4,
    payload,
    headers: { trace: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' },
    openid: 'user-000123',
  },
  NotifyMessage: notify,
  UnicastPushRequest: {
    targetType: 'openid',
    targetId: 'user-000123',
    msgType: 'chat.message',
    title: 'New message',
    content: 'hello from the bench, a short notification body',
    data: new Uint8Array(128).fill(7),
    metadata: { room: 'r-42' },
    syncHint: 2,
    bindClientSeqId: 77,
    pushId: 'p-0f8e2c1a',
  },
  UpstreamRequest: {
    sessionId: 's-7d1c0a4e',
    openid: 'user-000123',
    action: 'echo',
    params: { a: '1', b: 'two' },
    data: payload,
    headers: { trace: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' },
    clientSeqId: 4321,
  },
  UpstreamResponse: { code: 0, message: 'ok', data: payload, headers: { zone: '3' }, clientSeqId: 4321 },
};
const BIGINT_FIELDS = new Set(['seqId', 'bindClientSeqId', 'clientSeqId']);

async function protobufjsReflect(): Promise<Impl | string> {
  let protobuf: typeof import('protobufjs');
  try {
    protobuf = (await import('protobufjs')).default as unknown as typeof import('protobufjs');
  } catch {
    return 'protobufjs not installed';
  }
  protobuf.util.Long = undefined as unknown as typeof protobuf.util.Long;
  protobuf.configure();
  const root = protobuf.loadSync([join(ROOT, 'proto/message.proto'), join(ROOT, 'proto/upstream.proto')]);
  const types = new Map(MESSAGES.map((m) => [m, root.lookupType(`gatesvr.v1.${m}`)]));
  return {
    name: 'protobufjs-reflect',
    encode: (m, v) => types.get(m)!.encode(v).finish(),
    decode: (m, b) => types.get(m)!.decode(b),
  };
}

async function pbjsStatic(): Promise<Impl | string> {
  const { codecOf } = await import('../src/protocol/messages.js');
  return {
    name: 'pbjs-static',
    encode: (m, v) => codecOf(m).encode(v),
    decode: (m, b) => codecOf(m).decode(b),
  };
}

/** Runs `buf generate` with one local plugin into .tmp/codec-bench/<name>; false if either is missing. */
function bufGenerate(name: string, plugin: string, opt: string[]): string | false {
  if (!existsSync(join(BIN, 'buf')) || !existsSync(join(BIN, plugin))) return false;
  const dir = join(TMP, name);
  mkdirSync(dir, { recursive: true });
  const template = join(TMP, `buf.gen.${name}.yaml`);
  const plug = `  - local: ${join(BIN, plugin)}\n    out: ${dir}\n    opt: [${opt.join(', ')}]\n`;
  writeFileSync(template, `version: v2\nplugins:\n${plug}`);
  execFileSync(join(BIN, 'buf'), ['generate', 'proto', '--template', template], {
    cwd: ROOT,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  return dir;
}

async function tsProto(): Promise<Impl | string> {
  // useOptionals=all: encode skips undefined fields, as the gateway's callers pass partial messages.
  const opt = [
    'useOptionals=all',
    'forceLong=number',
    'outputJsonMethods=false',
    'outputPartialMethods=false',
  ];
  const dir = bufGenerate('ts-proto', 'protoc-gen-ts_proto', [...opt, 'importSuffix=.js']);
  if (!dir) return 'ts-proto (or @bufbuild/buf) not installed';
  type Fns = { encode(v: unknown): { finish(): Uint8Array }; decode(b: Uint8Array): unknown };
  const mods = [
    (await import(join(dir, 'message.ts'))) as Record<string, Fns>,
    (await import(join(dir, 'upstream.ts'))) as Record<string, Fns>,
  ];
  const types = new Map(MESSAGES.map((m) => [m, (mods[0]![m] ?? mods[1]![m])!]));
  return {
    name: 'ts-proto',
    encode: (m, v) => types.get(m)!.encode(v).finish(),
    decode: (m, b) => types.get(m)!.decode(b),
  };
}

interface EsRuntime {
  create(schema: unknown, init: unknown): unknown;
  toBinary(schema: unknown, message: unknown): Uint8Array;
  fromBinary(schema: unknown, bytes: Uint8Array): unknown;
}

async function protobufEs(): Promise<Impl | string> {
  const dir = bufGenerate('protobuf-es', 'protoc-gen-es', ['target=ts', 'import_extension=js']);
  if (!dir) return 'protoc-gen-es (or @bufbuild/buf) not installed';
  // Through a variable, so that type checking does not need the optional package.
  const runtime = '@bufbuild/protobuf';
  const pb = (await import(runtime)) as EsRuntime;
  const mods = [
    (await import(join(dir, 'message_pb.ts'))) as Record<string, unknown>,
    (await import(join(dir, 'upstream_pb.ts'))) as Record<string, unknown>,
  ];
  const schemas = new Map(MESSAGES.map((m) => [m, mods[0]![`${m}Schema`] ?? mods[1]![`${m}Schema`]]));
  return {
    name: 'protobuf-es',
    encode: (m, v) => pb.toBinary(schemas.get(m), pb.create(schemas.get(m), v)),
    decode: (m, b) => pb.fromBinary(schemas.get(m), b),
    prepare: (_m, v) =>
      Object.fromEntries(
        Object.entries(v).map(([k, x]) => [k, BIGINT_FIELDS.has(k) ? BigInt(x as number) : x]),
      ),
  };
}

/** The work of one op: ServerPush is measured with its NotifyMessage payload encoded/decoded inside. */
function ops(impl: Impl, msg: MsgName): { enc: () => Uint8Array; dec: (b: Uint8Array) => unknown } {
  const prep = (m: MsgName, v: Plain) => (impl.prepare ? impl.prepare(m, v) : v);
  if (msg === 'ServerPush') {
    const n = prep('NotifyMessage', notify);
    return {
      enc: () => {
        const inner = impl.encode('NotifyMessage', n);
        return impl.encode(
          'ServerPush',
          prep('ServerPush', { msgId: 0, seqId: 1_000_001, type: 5, payload: inner }),
        );
      },
      dec: (b) =>
        impl.decode('NotifyMessage', (impl.decode('ServerPush', b) as { payload: Uint8Array }).payload),
    };
  }
  const v = prep(msg, FIXTURES[msg]);
  return { enc: () => impl.encode(msg, v), dec: (b) => impl.decode(msg, b) };
}

function opsPerSec(fn: () => unknown, seconds: number): number {
  for (let i = 0; i < 2000; i++) fn(); // warm-up: let the JIT settle before timing
  const deadline = performance.now() + seconds * 1000;
  let n = 0;
  const t0 = performance.now();
  while (performance.now() < deadline) {
    for (let i = 0; i < 500; i++) fn();
    n += 500;
  }
  return (n * 1000) / (performance.now() - t0);
}

const geomean = (xs: number[]) => Math.exp(xs.reduce((a, x) => a + Math.log(x), 0) / xs.length);

export async function run(opts: RunOptions = {}): Promise<void> {
  const seconds = opts.seconds ?? 0.3;
  const rounds = Number(opts.args?.rounds ?? 3);
  const impls: Impl[] = [];
  for (const load of [protobufjsReflect, pbjsStatic, tsProto, protobufEs]) {
    const r = await load();
    if (typeof r === 'string') progress(`skipped: ${r}`);
    else impls.push(r);
  }
  const base = impls.find((i) => i.name === 'protobufjs-reflect');
  const rows = MESSAGES.filter((m) => m !== 'NotifyMessage');
  // Same bytes as the old codec? (proto3 readers accept either, but equal bytes prove equal field numbers)
  const sameBytes = new Map<string, boolean>();
  for (const impl of impls)
    for (const m of rows) {
      const a = ops(impl, m).enc();
      const b = base ? ops(base, m).enc() : a;
      sameBytes.set(`${impl.name}/${m}`, Buffer.from(a).equals(Buffer.from(b)));
      ops(impl, m).dec(a); // and it decodes its own output
    }
  const best = new Map<string, number>();
  for (let r = 0; r < rounds; r++) {
    progress(`round ${r + 1}/${rounds}`);
    for (const m of rows)
      for (const impl of impls) {
        const o = ops(impl, m);
        const bytes = o.enc();
        const enc = opsPerSec(o.enc, seconds);
        const dec = opsPerSec(() => o.dec(bytes), seconds);
        for (const [k, v] of [
          [`${impl.name}/${m}/encode`, enc],
          [`${impl.name}/${m}/decode`, dec],
        ] as const)
          best.set(k, Math.max(best.get(k) ?? 0, v));
      }
  }
  const cells: Array<{ message: string; op: string; [impl: string]: number | string | boolean }> = [];
  for (const m of rows)
    for (const op of ['encode', 'decode']) {
      const cell: (typeof cells)[number] = { message: m, op };
      for (const impl of impls) cell[impl.name] = Math.round(best.get(`${impl.name}/${m}/${op}`)!);
      cells.push(cell);
    }
  const names = impls.map((i) => i.name);
  const baseName = base?.name ?? names[0]!;
  table(
    [
      'message',
      'op',
      ...names.map((n) => `${n} ops/s`),
      ...names.filter((n) => n !== baseName).map((n) => `${n} x`),
    ],
    cells.map((c) => [
      c.message,
      c.op,
      ...names.map((n) => c[n] as number),
      ...names.filter((n) => n !== baseName).map((n) => (c[n] as number) / (c[baseName] as number)),
    ]),
  );
  for (const n of names) {
    const diff = rows.filter((m) => !sameBytes.get(`${n}/${m}`));
    progress(
      `${n}: ${diff.length === 0 ? 'same bytes as protobufjs on every message' : `bytes differ on ${diff.join(', ')}`}`,
    );
  }
  const gm = (n: string) => geomean(cells.map((c) => c[n] as number));
  emitResult({
    scenario: 'codec',
    value: gm('pbjs-static'),
    baseline: gm(baseName),
    unit: 'ops/s (geomean of encode and decode cells)',
    geomeans: Object.fromEntries(names.map((n) => [n, Math.round(gm(n))])),
    sameBytes: Object.fromEntries(names.map((n) => [n, rows.every((m) => sameBytes.get(`${n}/${m}`))])),
    cells,
  });
}

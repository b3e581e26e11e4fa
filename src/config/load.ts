// loadConfig: defaults <- YAML file (--config FILE) <- GATESVR_* environment <- flags,
// each layer walking the schema's keys (FIELDS). Every problem becomes a ConfigError
// whose message is one line naming the key:
//   config: server.ack_timeout: "3x" is not a duration (use e.g. "500ms", "30s", "5m")

import { readFileSync } from 'node:fs';
import { type ParseArgsConfig, parseArgs } from 'node:util';
import { closest, distance } from 'fastest-levenshtein';
import { parseDocument } from 'yaml';
import type { z } from 'zod';
import { hs256SecretProblem } from '../auth/key-rules.js';
import { formatDuration } from './duration.js';
import { show } from './kinds.js';
import * as schema from './schema.js';
import { FIELD_BY_PATH, FIELDS, type FieldSpec, type GatewayConfig } from './schema.js';

/** A bad configuration. `message` is one line; `key` is the YAML path when known. */
export class ConfigError extends Error {
  override name = 'ConfigError';
  constructor(
    message: string,
    readonly key?: string,
  ) {
    super(message);
  }
}

export interface LoadConfigOptions {
  /** Command-line arguments without node and script (default: process.argv.slice(2)). */
  argv?: readonly string[];
  /** Environment (default: process.env). Pass {} for a hermetic load. */
  env?: Readonly<Record<string, string | undefined>>;
  /** Ignore flags this module does not know (for CLIs with flags of their own). Default false. */
  allowUnknownFlags?: boolean;
}

/** Env var naming the config file when no --config flag is given. */
export const CONFIG_FILE_ENV = 'GATESVR_CONFIG';

function fail(path: string, problem: string, source = ''): never {
  throw new ConfigError(`config: ${path}: ${problem}${source ? ` (${source})` : ''}`, path);
}

/** The first issue as one line: list items as "item N: ", route actions as "action: ". */
function describe(iss: z.core.$ZodIssue): string {
  const keyIssue = iss.code === 'invalid_key';
  const at = keyIssue ? iss.path.slice(0, -1) : iss.path;
  const where = at.map((p) => (typeof p === 'number' ? `item ${p + 1}: ` : `${String(p)}: `)).join('');
  return where + (keyIssue ? iss.issues[0]!.message : iss.message);
}

/** Parses one raw value with the key's schema and sets it. */
function apply(cfg: GatewayConfig, spec: FieldSpec, raw: unknown, source: string): void {
  const r = spec.schema.safeParse(raw);
  if (!r.success) fail(spec.path, describe(r.error.issues[0]!), source);
  schema.setProp(cfg, spec.prop, r.data);
}

// ---------------------------------------------------------------------------
// YAML: walk the document along the schema; unknown keys get a did-you-mean

/** Known child names of a section ("" = top level). */
function childrenOf(prefix: string): string[] {
  const start = prefix === '' ? '' : `${prefix}.`;
  const names = FIELDS.filter((s) => s.path.startsWith(start)).map((s) => s.path.slice(start.length));
  return [...new Set(names.map((n) => n.split('.')[0]!))];
}

function unknownKey(path: string, source: string): never {
  const dot = path.lastIndexOf('.');
  const prefix = dot < 0 ? '' : path.slice(0, dot);
  const name = path.slice(dot + 1).toLowerCase();
  const known = childrenOf(prefix);
  const best = known.length > 0 ? closest(name, known) : '';
  const hint =
    known.length > 0 && distance(name, best) <= Math.max(2, Math.floor(name.length / 3))
      ? `; did you mean "${prefix ? `${prefix}.` : ''}${best}"?`
      : known.length > 0
        ? `; known keys here: ${known.join(', ')}`
        : '';
  fail(path, `unknown key${hint}`, source);
}

function applyObject(cfg: GatewayConfig, obj: unknown, prefix: string, source: string): void {
  if (obj === null || obj === undefined) return; // an empty section keeps its defaults
  if (typeof obj !== 'object' || Array.isArray(obj)) {
    fail(prefix || '(top level)', `expected a mapping of keys, got ${show(obj)}`, source);
  }
  for (const [key, value] of Object.entries(obj)) {
    const path = prefix ? `${prefix}.${key}` : key;
    const spec = FIELD_BY_PATH.get(path);
    if (spec) {
      if (value !== null && value !== undefined) apply(cfg, spec, value, source);
    } else if (FIELDS.some((s) => s.path.startsWith(`${path}.`))) {
      applyObject(cfg, value, path, source);
    } else {
      unknownKey(path, source);
    }
  }
}

function applyYamlText(cfg: GatewayConfig, text: string, source: string): void {
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  const e = doc.errors[0];
  if (e) {
    const where = e.linePos?.[0] ? `line ${e.linePos[0].line}, column ${e.linePos[0].col}: ` : '';
    const msg = e.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
    throw new ConfigError(`config: ${source}: YAML error at ${where}${msg}`);
  }
  let obj: unknown;
  try {
    obj = doc.toJS({ maxAliasCount: 1000 });
  } catch (err) {
    throw new ConfigError(`config: ${source}: ${(err as Error).message.split('\n')[0]}`);
  }
  applyObject(cfg, obj, '', `in ${source}`);
}

// ---------------------------------------------------------------------------
// Cross-field rules

/** Keys that come together: a certificate and its key, a user and a password. */
const PAIRS = [
  ['server.cert_file', 'server.key_file', ' (or leave both empty for self-signed)'],
  ['push_api.cert_file', 'push_api.key_file', ''],
  ['upstream_tls.cert_file', 'upstream_tls.key_file', ''],
  ['nats.tls_cert_file', 'nats.tls_key_file', ''],
  ['nats.user', 'nats.password', ''],
] as const;

/** Checks rules that involve more than one key. Throws ConfigError. */
export function validateConfig(cfg: GatewayConfig): void {
  const set = (path: string) => schema.getProp(cfg, FIELD_BY_PATH.get(path)!.prop) !== '';
  const pair = ([a, b, hint]: (typeof PAIRS)[number]) => {
    if (set(a) && !set(b)) fail(b, `required when ${a} is set${hint}`);
    if (set(b) && !set(a)) fail(a, `required when ${b} is set${hint}`);
  };
  const { auth, backup } = cfg;
  pair(PAIRS[0]);
  if (auth.mode === 'jwt') {
    const keys = ['auth.jwt_secret', 'auth.jwt_public_key_file', 'auth.jwks_file'];
    const sources = keys.filter(set).length;
    const none = 'required when auth.mode is "jwt" (or set auth.jwt_public_key_file or auth.jwks_file)';
    if (sources === 0) fail('auth.jwt_secret', none);
    if (sources > 1) fail(keys[set(keys[0]!) ? 0 : 2]!, `set only one of ${keys.join(', ')}`);
    const weak = auth.jwtSecret !== '' ? hs256SecretProblem(auth.jwtSecret) : null;
    if (weak) fail('auth.jwt_secret', weak);
  }
  if (backup.enabled && !set('nats.url')) {
    fail('nats.url', 'required when backup.enabled is true (primary and backup share one NATS server)');
  }
  const [interval, timeout] = [backup.heartbeat.intervalMs, backup.heartbeat.timeoutMs].map(formatDuration);
  if (backup.heartbeat.timeoutMs <= backup.heartbeat.intervalMs) {
    fail(
      'backup.heartbeat.timeout',
      `${timeout} must be longer than backup.heartbeat.interval (${interval})`,
    );
  }
  if (set('push_api.token') && set('push_api.token_file')) {
    fail('push_api.token_file', 'set either push_api.token or push_api.token_file, not both');
  }
  pair(PAIRS[1]);
  if (set('push_api.client_ca_file') && !set('push_api.cert_file')) {
    fail('push_api.client_ca_file', 'mTLS needs TLS: set push_api.cert_file and push_api.key_file');
  }
  for (const p of PAIRS.slice(2)) pair(p);
  const methods = ['nats.creds_file', 'nats.nkey_seed_file', 'nats.token', 'nats.user'].filter(set);
  if (methods.length > 1)
    fail(methods[1]!, `one NATS authentication method at most (also set: ${methods[0]})`);
}

const loaded = new WeakSet<object>();

/** True for configs (and their log sections) returned by loadConfig / configFrom*. */
export function isLoadedConfig(obj: object): boolean {
  return loaded.has(obj);
}

function finish(cfg: GatewayConfig): GatewayConfig {
  validateConfig(cfg);
  loaded.add(cfg);
  loaded.add(cfg.log);
  return cfg;
}

/** Builds a config from a YAML-shaped (snake_case) object over the defaults. */
export function configFromObject(obj: unknown): GatewayConfig {
  const cfg = schema.defaultConfig();
  applyObject(cfg, obj, '', '');
  return finish(cfg);
}

/** Builds a config from YAML text over the defaults. */
export function configFromYamlText(text: string, source = 'yaml'): GatewayConfig {
  const cfg = schema.defaultConfig();
  applyYamlText(cfg, text, source);
  return finish(cfg);
}

// ---------------------------------------------------------------------------
// Flags and environment

const FLAG_FIELDS = FIELDS.filter((s) => s.flag !== undefined);

/** node:util parseArgs options understood by loadConfig (merge them into a CLI's own). */
export const CONFIG_FLAG_OPTIONS = {
  config: { type: 'string', short: 'c' },
  set: { type: 'string', multiple: true },
  ...Object.fromEntries(
    FLAG_FIELDS.map((s) => [s.flag!, { type: s.kind === 'bool' ? 'boolean' : 'string' }]),
  ),
} as const satisfies NonNullable<ParseArgsConfig['options']>;

const LONG_NAMES = Object.keys(CONFIG_FLAG_OPTIONS);

/** Go-style "-config=x" / "-quic-addr x" (seed 6.2) become "--config=x" / "--quic-addr x". */
function normalizeArgv(argv: readonly string[]): string[] {
  const end = argv.indexOf('--');
  return argv.map((a, i) => {
    const m = end >= 0 && i >= end ? null : /^-([a-z][a-z-]+)(=.*)?$/.exec(a);
    return m && LONG_NAMES.includes(m[1]!) ? `-${a}` : a;
  });
}

function parseFlags(argv: readonly string[], allowUnknown: boolean): Record<string, unknown> {
  try {
    const args = normalizeArgv(argv);
    return parseArgs({ args, options: CONFIG_FLAG_OPTIONS, strict: !allowUnknown, allowPositionals: true })
      .values;
  } catch (err) {
    const e = err as Error & { code?: string };
    if (e.code !== 'ERR_PARSE_ARGS_UNKNOWN_OPTION')
      throw new ConfigError(`config: ${e.message.split('\n')[0]}`);
    const flag = /'([^']+)'/.exec(e.message)?.[1] ?? '';
    const name = flag.replace(/^-+/, '');
    const near = LONG_NAMES.find((n) => name.length > 2 && distance(name, n) <= 2);
    const hint = near ? `did you mean --${near}? ` : '';
    throw new ConfigError(
      `config: unknown flag ${flag || e.message.split('\n')[0]}; ${hint}any key can be set with --set key.path=value`,
    );
  }
}

function applyFlags(cfg: GatewayConfig, values: Record<string, unknown>): void {
  for (const spec of FLAG_FIELDS) {
    const v = values[spec.flag!];
    if (typeof v === 'string' || typeof v === 'boolean') apply(cfg, spec, v, `from --${spec.flag}`);
  }
  for (const item of (values['set'] as string[] | undefined) ?? []) {
    const eq = item.indexOf('=');
    if (eq <= 0) throw new ConfigError(`config: --set ${JSON.stringify(item)}: expected key.path=value`);
    const path = item.slice(0, eq).trim();
    apply(cfg, FIELD_BY_PATH.get(path) ?? unknownKey(path, 'from --set'), item.slice(eq + 1), 'from --set');
  }
}

/** The systematic name first; a seed alias (GATESVR_QUIC_ADDR ...) counts when it is unset. Empty = unset. */
function applyEnv(cfg: GatewayConfig, env: Readonly<Record<string, string | undefined>>): void {
  for (const spec of FIELDS) {
    const name = spec.env.find((n) => env[n] !== undefined && env[n] !== '');
    if (name) apply(cfg, spec, env[name], `from env ${name}`);
  }
}

/**
 * Loads the gateway configuration. Precedence (highest first): command-line flags
 * (--set after the named flags), GATESVR_* environment variables, the YAML file given
 * by --config (or GATESVR_CONFIG), the built-in DEFAULTS. Throws ConfigError.
 */
export function loadConfig(opts: LoadConfigOptions = {}): GatewayConfig {
  const env = opts.env ?? process.env;
  const flags = parseFlags(opts.argv ?? process.argv.slice(2), opts.allowUnknownFlags ?? false);
  const cfg = schema.defaultConfig();
  const file = typeof flags['config'] === 'string' ? flags['config'] : env[CONFIG_FILE_ENV] || undefined;
  if (file !== undefined) {
    if (file.trim() === '') throw new ConfigError('config: --config needs a file name');
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      const why = e.code === 'ENOENT' ? 'no such file' : (e.code ?? e.message.split('\n')[0]);
      throw new ConfigError(`config: cannot read config file ${JSON.stringify(file)}: ${why}`);
    }
    applyYamlText(cfg, text, file);
  }
  applyEnv(cfg, env);
  applyFlags(cfg, flags);
  return finish(cfg);
}

/** Every environment variable loadConfig reads, with the key it sets. */
export function envVarNames(): { name: string; path: string }[] {
  return [
    { name: CONFIG_FILE_ENV, path: '(config file)' },
    ...FIELDS.flatMap((s) => s.env.map((name) => ({ name, path: s.path }))),
  ];
}

// loadConfig: defaults <- YAML file (--config FILE) <- GATESVR_* environment <- flags.
// Every problem becomes a ConfigError whose message is one line naming the key:
//   config: server.ack_timeout: "3x" is not a duration (use e.g. "500ms", "30s", "5m")

import { readFileSync } from 'node:fs';
import { isIPv4, isIPv6 } from 'node:net';
import { type ParseArgsConfig, parseArgs } from 'node:util';
import { parseDocument } from 'yaml';
import { hs256SecretProblem } from '../auth/key-rules.js';
import { DurationError, formatDuration, parseDuration } from './duration.js';
import {
  AddrError,
  defaultConfig,
  FIELD_BY_PATH,
  FIELDS,
  type FieldSpec,
  type GatewayConfig,
  parseAddr,
  SERVICE_NAMES,
  type ServiceName,
  setProp,
} from './schema.js';
import { redactNatsUrl } from './url-credentials.js';

/** A bad configuration. `message` is one line; `key` is the YAML path when known. */
export class ConfigError extends Error {
  override name = 'ConfigError';
  readonly key: string | undefined;
  constructor(message: string, key?: string) {
    super(message);
    this.key = key;
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

// ---------------------------------------------------------------------------
// Value coercion (one field, one raw value)

class ValueError extends Error {}

const NAME = /^[A-Za-z0-9_-]{1,64}$/;
const SUBJECT = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;
const ACTION = /^[A-Za-z0-9_.:-]{1,128}$/;
const NATS_URL = /^(nats|tls|ws|wss):\/\/[^\s,]+$/;
const HOST_NAME = /^[A-Za-z0-9]([A-Za-z0-9_-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9_-]*[A-Za-z0-9])?)*\.?$/;

function show(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (v === null || v === undefined) return 'empty';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  return String(v);
}

function asText(v: unknown, what: string): string {
  if (typeof v !== 'string') throw new ValueError(`${show(v)} is not ${what} (quote it as a string)`);
  return v.trim();
}

function coerceInt(spec: FieldSpec, v: unknown): number {
  let n: number;
  if (typeof v === 'number') n = v;
  else if (typeof v === 'string' && /^\s*-?\d+\s*$/.test(v)) n = Number(v);
  else throw new ValueError(`${show(v)} is not a whole number`);
  if (!Number.isSafeInteger(n)) throw new ValueError(`${show(v)} is not a whole number`);
  if (spec.min !== undefined && n < spec.min) throw new ValueError(`${n} is below the minimum ${spec.min}`);
  if (spec.max !== undefined && n > spec.max) throw new ValueError(`${n} is above the maximum ${spec.max}`);
  return n;
}

function coerceDuration(spec: FieldSpec, v: unknown): number {
  let ms: number;
  try {
    ms = parseDuration(v);
  } catch (err) {
    if (err instanceof DurationError) throw new ValueError(err.message);
    throw err;
  }
  if (spec.min !== undefined && ms < spec.min) {
    throw new ValueError(`${show(v)} is below the minimum ${formatDuration(spec.min)}`);
  }
  if (spec.max !== undefined && ms > spec.max) {
    throw new ValueError(`${show(v)} is above the maximum ${formatDuration(spec.max)}`);
  }
  return ms;
}

function coerceBool(v: unknown): boolean {
  if (typeof v === 'boolean') return v;
  if (typeof v === 'string') {
    const t = v.trim().toLowerCase();
    if (['true', '1', 'yes', 'on'].includes(t)) return true;
    if (['false', '0', 'no', 'off'].includes(t)) return false;
  }
  if (v === 1 || v === 0) return v === 1;
  throw new ValueError(`${show(v)} is not true or false`);
}

function checkAddr(v: string, requireHost: boolean): string {
  try {
    const { port } = parseAddr(v, { requireHost });
    if (requireHost && port === 0) throw new AddrError(`${JSON.stringify(v)}: port must be 1..65535`);
    return v;
  } catch (err) {
    if (err instanceof AddrError) throw new ValueError(err.message);
    throw err;
  }
}

function splitList(text: string): string[] {
  return text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

function coerceHostList(v: unknown): string[] {
  let items: unknown[];
  if (typeof v === 'string') items = splitList(v);
  else if (Array.isArray(v)) items = v;
  else throw new ValueError(`${show(v)} is not a list of "host:port"`);
  return items.map((item, i) => {
    if (typeof item !== 'string')
      throw new ValueError(`item ${i + 1}: ${show(item)} is not a "host:port" string`);
    return checkAddr(item.trim(), true);
  });
}

function coerceNameList(v: unknown): string[] {
  let items: unknown[];
  if (typeof v === 'string') items = splitList(v);
  else if (Array.isArray(v)) items = v;
  else throw new ValueError(`${show(v)} is not a list of host names`);
  return items.map((item, i) => {
    const t = typeof item === 'string' ? item.trim() : '';
    const bare = t.startsWith('[') && t.endsWith(']') ? t.slice(1, -1) : t;
    if (t === '*' || isIPv4(bare) || isIPv6(bare) || HOST_NAME.test(bare)) return t.toLowerCase();
    throw new ValueError(`item ${i + 1}: ${show(item)} is not a host name or IP address (no port)`);
  });
}

function coerceRoutes(v: unknown): Record<string, ServiceName> {
  let entries: [string, unknown][];
  if (typeof v === 'string') {
    entries = splitList(v).map((pair) => {
      const eq = pair.indexOf('=');
      if (eq < 0) throw new ValueError(`${JSON.stringify(pair)} is not "action=service"`);
      return [pair.slice(0, eq).trim(), pair.slice(eq + 1).trim()];
    });
  } else if (v && typeof v === 'object' && !Array.isArray(v)) {
    entries = Object.entries(v);
  } else {
    throw new ValueError(`${show(v)} is not a mapping of action -> service`);
  }
  const out: Record<string, ServiceName> = {};
  for (const [action, svc] of entries) {
    if (!ACTION.test(action)) throw new ValueError(`${JSON.stringify(action)} is not a valid action name`);
    if (typeof svc !== 'string' || !SERVICE_NAMES.includes(svc as ServiceName)) {
      throw new ValueError(`${action}: ${show(svc)} is not a service (use ${SERVICE_NAMES.join(', ')})`);
    }
    out[action] = svc as ServiceName;
  }
  return out;
}

function coerce(spec: FieldSpec, v: unknown): unknown {
  switch (spec.kind) {
    case 'addr':
      return checkAddr(asText(v, 'an address'), false);
    case 'hostList':
      return coerceHostList(v);
    case 'nameList':
      return coerceNameList(v);
    case 'routes':
      return coerceRoutes(v);
    case 'string':
    case 'path':
      return asText(v, 'a string');
    case 'secret':
      if (typeof v !== 'string') throw new ValueError('must be a string (quote it)');
      return v;
    case 'name': {
      const t = asText(v, 'a name');
      if (!NAME.test(t)) throw new ValueError(`${show(t)} must be 1-64 of A-Z a-z 0-9 _ -`);
      return t;
    }
    case 'subject': {
      const t = asText(v, 'a subject prefix');
      if (!SUBJECT.test(t))
        throw new ValueError(`${show(t)} must be dot-separated tokens of A-Z a-z 0-9 _ -`);
      return t;
    }
    case 'natsUrl': {
      const t = asText(v, 'a NATS URL');
      for (const u of splitList(t)) {
        if (NATS_URL.test(u)) continue;
        try {
          parseAddr(u, { requireHost: true });
        } catch {
          throw new ValueError(
            `${show(redactNatsUrl(u))} is not a NATS URL (use e.g. "nats://127.0.0.1:4222")`,
          );
        }
      }
      return splitList(t).join(',');
    }
    case 'duration':
      return coerceDuration(spec, v);
    case 'int':
      return coerceInt(spec, v);
    case 'bool':
      return coerceBool(v);
    case 'enum': {
      const t = typeof v === 'string' ? v.trim().toLowerCase() : v;
      if (typeof t !== 'string' || !spec.values!.includes(t)) {
        throw new ValueError(`${show(v)} is not one of ${spec.values!.join(', ')}`);
      }
      return t;
    }
  }
}

function fail(path: string, problem: string, source: string): never {
  throw new ConfigError(`config: ${path}: ${problem}${source ? ` (${source})` : ''}`, path);
}

function apply(cfg: GatewayConfig, spec: FieldSpec, raw: unknown, source: string): void {
  try {
    setProp(cfg, spec.prop, coerce(spec, raw));
  } catch (err) {
    if (err instanceof ValueError) fail(spec.path, err.message, source);
    throw err;
  }
}

// ---------------------------------------------------------------------------
// Unknown keys: did-you-mean

function distance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0]!;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = prev[j]!;
      prev[j] = Math.min(prev[j]! + 1, prev[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = tmp;
    }
  }
  return prev[b.length]!;
}

/** Known child names of a section ("" = top level). */
function childrenOf(prefix: string): string[] {
  const set = new Set<string>();
  const start = prefix === '' ? '' : `${prefix}.`;
  for (const s of FIELDS) if (s.path.startsWith(start)) set.add(s.path.slice(start.length).split('.')[0]!);
  return [...set];
}

function unknownKey(path: string, source: string): never {
  const dot = path.lastIndexOf('.');
  const prefix = dot < 0 ? '' : path.slice(0, dot);
  const name = path.slice(dot + 1);
  const candidates = childrenOf(prefix);
  let best = '';
  let bestD = Number.POSITIVE_INFINITY;
  for (const c of candidates) {
    const d = distance(name.toLowerCase(), c);
    if (d < bestD) [best, bestD] = [c, d];
  }
  const hint =
    bestD <= Math.max(2, Math.floor(name.length / 3))
      ? `; did you mean "${prefix ? `${prefix}.` : ''}${best}"?`
      : candidates.length > 0
        ? `; known keys here: ${candidates.join(', ')}`
        : '';
  fail(path, `unknown key${hint}`, source);
}

function isSection(path: string): boolean {
  return FIELDS.some((s) => s.path.startsWith(`${path}.`));
}

function applyObject(cfg: GatewayConfig, obj: unknown, prefix: string, source: string): void {
  if (obj === null || obj === undefined) return;
  if (typeof obj !== 'object' || Array.isArray(obj)) {
    fail(prefix || '(top level)', `expected a mapping of keys, got ${show(obj)}`, source);
  }
  for (const [key, value] of Object.entries(obj as Record<string, unknown>)) {
    const path = prefix ? `${prefix}.${key}` : key;
    const spec = FIELD_BY_PATH.get(path);
    if (spec) {
      if (value !== null && value !== undefined) apply(cfg, spec, value, source);
    } else if (isSection(path)) {
      applyObject(cfg, value, path, source);
    } else {
      unknownKey(path, source);
    }
  }
}

function applyYamlText(cfg: GatewayConfig, text: string, source: string): void {
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
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

/** Checks rules that involve more than one key. Throws ConfigError. */
export function validateConfig(cfg: GatewayConfig): void {
  const { server, auth, nats, backup } = cfg;
  if (server.certFile !== '' && server.keyFile === '') {
    fail(
      'server.key_file',
      'required when server.cert_file is set (or leave both empty for self-signed)',
      '',
    );
  }
  if (server.keyFile !== '' && server.certFile === '') {
    fail(
      'server.cert_file',
      'required when server.key_file is set (or leave both empty for self-signed)',
      '',
    );
  }
  if (auth.mode === 'jwt') validateJwtKeys(auth);
  if (backup.enabled && nats.url === '') {
    fail('nats.url', 'required when backup.enabled is true (primary and backup share one NATS server)', '');
  }
  if (backup.heartbeat.timeoutMs <= backup.heartbeat.intervalMs) {
    fail(
      'backup.heartbeat.timeout',
      `${formatDuration(backup.heartbeat.timeoutMs)} must be longer than backup.heartbeat.interval (${formatDuration(backup.heartbeat.intervalMs)})`,
      '',
    );
  }
  validateTransportSecurity(cfg);
}

/** A certificate and its key come together. */
function pairRule(a: [string, string], b: [string, string]): void {
  if (a[1] !== '' && b[1] === '') fail(b[0], `required when ${a[0]} is set`, '');
  if (b[1] !== '' && a[1] === '') fail(a[0], `required when ${b[0]} is set`, '');
}

function validateTransportSecurity({ pushApi, upstreamTls, nats }: GatewayConfig): void {
  if (pushApi.token !== '' && pushApi.tokenFile !== '') {
    fail('push_api.token_file', 'set either push_api.token or push_api.token_file, not both', '');
  }
  pairRule(['push_api.cert_file', pushApi.certFile], ['push_api.key_file', pushApi.keyFile]);
  if (pushApi.clientCaFile !== '' && pushApi.certFile === '') {
    fail('push_api.client_ca_file', 'mTLS needs TLS: set push_api.cert_file and push_api.key_file', '');
  }
  pairRule(['upstream_tls.cert_file', upstreamTls.certFile], ['upstream_tls.key_file', upstreamTls.keyFile]);
  pairRule(['nats.tls_cert_file', nats.tlsCertFile], ['nats.tls_key_file', nats.tlsKeyFile]);
  pairRule(['nats.user', nats.user], ['nats.password', nats.password]);
  const methods = [
    ['nats.creds_file', nats.credsFile],
    ['nats.nkey_seed_file', nats.nkeySeedFile],
    ['nats.token', nats.token],
    ['nats.user', nats.user],
  ].filter(([, v]) => v !== '');
  if (methods.length > 1) {
    fail(methods[1]![0]!, `one NATS authentication method at most (also set: ${methods[0]![0]})`, '');
  }
}

/** mode jwt: exactly one key source; an HS256 secret of at least 32 bytes. */
function validateJwtKeys(auth: GatewayConfig['auth']): void {
  const sources = [auth.jwtSecret, auth.jwtPublicKeyFile, auth.jwksFile].filter((v) => v !== '').length;
  if (sources === 0) {
    fail(
      'auth.jwt_secret',
      'required when auth.mode is "jwt" (or set auth.jwt_public_key_file or auth.jwks_file)',
      '',
    );
  }
  if (sources > 1) {
    fail(
      auth.jwtSecret !== '' ? 'auth.jwt_secret' : 'auth.jwks_file',
      'set only one of auth.jwt_secret, auth.jwt_public_key_file, auth.jwks_file',
      '',
    );
  }
  const weak = auth.jwtSecret !== '' ? hs256SecretProblem(auth.jwtSecret) : null;
  if (weak) fail('auth.jwt_secret', weak, '');
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
  const cfg = defaultConfig();
  applyObject(cfg, obj, '', '');
  return finish(cfg);
}

/** Builds a config from YAML text over the defaults. */
export function configFromYamlText(text: string, source = 'yaml'): GatewayConfig {
  const cfg = defaultConfig();
  applyYamlText(cfg, text, source);
  return finish(cfg);
}

// ---------------------------------------------------------------------------
// Flags

const FLAG_FIELDS = FIELDS.filter((s) => s.flag !== undefined);

/** node:util parseArgs options understood by loadConfig (merge them into a CLI's own). */
export const CONFIG_FLAG_OPTIONS = {
  config: { type: 'string', short: 'c' },
  set: { type: 'string', multiple: true },
  ...Object.fromEntries(
    FLAG_FIELDS.map((s) => [s.flag!, { type: s.kind === 'bool' ? 'boolean' : 'string' }]),
  ),
} as const satisfies NonNullable<ParseArgsConfig['options']>;

const LONG_NAMES = new Set(Object.keys(CONFIG_FLAG_OPTIONS));

/** Go-style "-config=x" / "-quic-addr x" (seed 6.2) become "--config=x" / "--quic-addr x". */
function normalizeArgv(argv: readonly string[]): string[] {
  const out: string[] = [];
  let rest = false;
  for (const a of argv) {
    if (a === '--') rest = true;
    const m = rest ? null : /^-([a-z][a-z-]+)(=.*)?$/.exec(a);
    out.push(m && LONG_NAMES.has(m[1]!) ? `-${a}` : a);
  }
  return out;
}

interface ParsedFlags {
  configFile: string | undefined;
  values: Record<string, unknown>;
}

function parseFlags(argv: readonly string[], allowUnknown: boolean): ParsedFlags {
  try {
    const { values } = parseArgs({
      args: normalizeArgv(argv),
      options: CONFIG_FLAG_OPTIONS,
      strict: !allowUnknown,
      allowPositionals: true,
    });
    const v = values as Record<string, unknown>;
    const configFile = typeof v['config'] === 'string' ? v['config'] : undefined;
    return { configFile, values: v };
  } catch (err) {
    const e = err as Error & { code?: string };
    if (e.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
      const flag = /'([^']+)'/.exec(e.message)?.[1] ?? '';
      const name = flag.replace(/^-+/, '');
      const near = [...LONG_NAMES].find((n) => name.length > 2 && distance(name, n) <= 2);
      const hint = near ? `did you mean --${near}? ` : '';
      throw new ConfigError(
        `config: unknown flag ${flag || e.message.split('\n')[0]}; ${hint}any key can be set with --set key.path=value`,
      );
    }
    throw new ConfigError(`config: ${e.message.split('\n')[0]}`);
  }
}

function applyFlags(cfg: GatewayConfig, values: Record<string, unknown>): void {
  for (const spec of FLAG_FIELDS) {
    const v = values[spec.flag!];
    if (v !== undefined && (typeof v === 'string' || typeof v === 'boolean')) {
      apply(cfg, spec, v, `from --${spec.flag}`);
    }
  }
  const sets = values['set'];
  if (Array.isArray(sets)) {
    for (const item of sets as string[]) {
      const eq = item.indexOf('=');
      if (eq <= 0) throw new ConfigError(`config: --set ${JSON.stringify(item)}: expected key.path=value`);
      const path = item.slice(0, eq).trim();
      const spec = FIELD_BY_PATH.get(path);
      if (!spec) unknownKey(path, 'from --set');
      apply(cfg, spec, item.slice(eq + 1), 'from --set');
    }
  }
}

// ---------------------------------------------------------------------------
// Environment

function applyEnv(cfg: GatewayConfig, env: Readonly<Record<string, string | undefined>>): void {
  for (const spec of FIELDS) {
    // Canonical name first; a seed alias (GATESVR_QUIC_ADDR ...) is used when it is unset.
    for (const name of spec.env) {
      const v = env[name];
      if (v === undefined || v === '') continue;
      apply(cfg, spec, v, `from env ${name}`);
      break;
    }
  }
}

// ---------------------------------------------------------------------------

/**
 * Loads the gateway configuration. Precedence (highest first): command-line flags
 * (--set after the named flags), GATESVR_* environment variables, the YAML file given
 * by --config (or GATESVR_CONFIG), the built-in DEFAULTS. Throws ConfigError.
 */
export function loadConfig(opts: LoadConfigOptions = {}): GatewayConfig {
  const argv = opts.argv ?? process.argv.slice(2);
  const env = opts.env ?? process.env;
  const flags = parseFlags(argv, opts.allowUnknownFlags ?? false);
  const cfg = defaultConfig();

  const file = flags.configFile ?? (env[CONFIG_FILE_ENV] || undefined);
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
  applyFlags(cfg, flags.values);
  return finish(cfg);
}

/** Every environment variable loadConfig reads, with the key it sets. */
export function envVarNames(): { name: string; path: string }[] {
  const out = [{ name: CONFIG_FILE_ENV, path: '(config file)' }];
  for (const s of FIELDS) for (const name of s.env) out.push({ name, path: s.path });
  return out;
}

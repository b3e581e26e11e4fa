// The kinds of config key. Each builder returns a zod schema that turns a YAML value
// or an env/flag string into the typed value, with one-line messages (the loader
// prefixes the key path), and registers the key's metadata (kind, range, env aliases,
// flag) in keyMeta; clones made by .describe() inherit it.

import { isIPv4, isIPv6 } from 'node:net';
import { z } from 'zod';
import { AddrError, HOSTNAME, parseAddr } from './addr.js';
import { DurationError, formatDuration, parseDuration } from './duration.js';
import { redactNatsUrl } from './url-credentials.js';

/** The value grammars; docs/configuration.md ("Value syntax") describes each. */
type TextKind = 'addr' | 'string' | 'path' | 'secret' | 'name' | 'subject' | 'natsUrl';
export type FieldKind = TextKind | 'hostList' | 'nameList' | 'routes' | 'duration' | 'int' | 'bool' | 'enum';

/** What the loader and the docs need besides the schema itself (the doc is its zod description). */
export interface KeyMeta {
  kind: FieldKind;
  /** Inclusive range (int: value; duration: milliseconds). */
  min?: number;
  max?: number;
  /** Allowed values for kind "enum". */
  values?: readonly string[];
  /** Seed-era env names, read when the systematic GATESVR_<PATH> is unset. */
  aliases?: readonly string[];
  /** Dedicated command-line flag (every key also works with --set path=value). */
  flag?: string;
  /** Accepted for seed compatibility; validated but not used by this gateway. */
  compat?: boolean;
}

export const keyMeta = z.registry<KeyMeta>();

type Extra = Pick<KeyMeta, 'aliases' | 'flag' | 'compat'>;
type Range = readonly [min: number, max: number];

export function show(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (v === null || v === undefined) return 'empty';
  if (Array.isArray(v)) return 'a list';
  return typeof v === 'object' ? 'a mapping' : String(v);
}

/** A zod error option: the refused input as shown to the user, then the problem. */
const says = (problem: string) => ({ error: (iss: { input: unknown }) => `${show(iss.input)} ${problem}` });

const ACTION = /^[A-Za-z0-9_.:-]{1,128}$/;
const NATS_URL = /^(nats|tls|ws|wss):\/\/[^\s,]+$/;
const WORDS: Record<string, boolean> = { true: true, yes: true, on: true, 1: true };
for (const w of ['false', 'no', 'off', '0']) WORDS[w] = false;

/** Registers a key: its schema with its default, and its metadata. */
function key<S extends z.ZodType>(schema: S, def: z.output<S>, kind: FieldKind, extra?: object) {
  const withDefault = schema.default(def as z.util.NoUndefined<z.output<S>>);
  keyMeta.add(withDefault as z.ZodType, { kind, ...extra });
  return withDefault;
}

class ValueError extends Error {}

/** A grammar kept in a throwing parser (parseAddr, parseDuration): its one-line message is the issue. */
function throwing<T, U>(fn: (v: T) => U) {
  return (v: T, ctx: z.RefinementCtx): U => {
    try {
      return fn(v);
    } catch (err) {
      if (!(err instanceof ValueError || err instanceof AddrError || err instanceof DurationError)) throw err;
      ctx.addIssue({ code: 'custom', message: err.message, input: v });
      return z.NEVER;
    }
  };
}

const text = (what: string) => z.string(says(`is not ${what} (quote it as a string)`)).trim();

const splitList = (v: unknown) => (typeof v === 'string' ? v.split(',').flatMap((s) => s.trim() || []) : v);

function checkAddr(v: string, requireHost: boolean): string {
  const { port } = parseAddr(v, { requireHost });
  if (requireHost && port === 0) throw new ValueError(`${JSON.stringify(v)}: port must be 1..65535`);
  return v;
}

function isHostName(t: string): boolean {
  const bare = t.startsWith('[') && t.endsWith(']') ? t.slice(1, -1) : t;
  return t === '*' || isIPv4(bare) || isIPv6(bare) || HOSTNAME.test(bare);
}

/** "a=svc,b=svc" (env, flags) becomes a mapping; YAML gives one already. */
function routePairs(v: unknown, ctx: z.RefinementCtx): unknown {
  if (typeof v !== 'string') return v;
  const pairs = (splitList(v) as string[]).map((p) => [
    p.slice(0, p.indexOf('=')).trim(),
    p.slice(p.indexOf('=') + 1).trim(),
  ]);
  const bad = (splitList(v) as string[]).find((p) => !p.includes('='));
  if (bad !== undefined)
    ctx.addIssue({ code: 'custom', message: `${JSON.stringify(bad)} is not "action=service"` });
  return Object.fromEntries(pairs);
}

function natsUrls(v: string): string {
  const urls = splitList(v) as string[];
  for (const u of urls) {
    if (NATS_URL.test(u)) continue;
    try {
      parseAddr(u, { requireHost: true });
    } catch {
      throw new ValueError(`${show(redactNatsUrl(u))} is not a NATS URL (use e.g. "nats://127.0.0.1:4222")`);
    }
  }
  return urls.join(',');
}

const durationIn =
  ([min, max]: Range) =>
  (v: unknown): number => {
    const ms = parseDuration(v);
    if (ms < min) throw new DurationError(`${show(v)} is below the minimum ${formatDuration(min)}`);
    if (ms > max) throw new DurationError(`${show(v)} is above the maximum ${formatDuration(max)}`);
    return ms;
  };

// ---------------------------------------------------------------------------
// Key builders: kind(default, range, extra), then .describe(doc). String-like keys default to "".

export const addr = (def: string, extra?: Extra) =>
  key(text('an address').transform(throwing((v: string) => checkAddr(v, false))), def, 'addr', extra);

export const str = (extra?: Extra) => key(text('a string'), '', 'string', extra);

export const path = (extra?: Extra) => key(text('a string'), '', 'path', extra);

/** Never trimmed and never echoed: no message carries the value. */
export const secret = () => key(z.string({ error: 'must be a string (quote it)' }), '', 'secret');

const NAME = /^[A-Za-z0-9_-]{1,64}$/;
export const name = (def: string, extra?: Extra) =>
  key(text('a name').regex(NAME, says('must be 1-64 of A-Z a-z 0-9 _ -')), def, 'name', extra);

const SUBJECT = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;
export const subject = (def: string) =>
  key(
    text('a subject prefix').regex(SUBJECT, says('must be dot-separated tokens of A-Z a-z 0-9 _ -')),
    def,
    'subject',
  );

export const natsUrl = (extra?: Extra) =>
  key(text('a NATS URL').transform(throwing(natsUrls)), '', 'natsUrl', extra);

export const duration = (def: number, [min, max]: Range, extra?: Extra) =>
  key(z.unknown().transform(throwing(durationIn([min, max]))), def, 'duration', { min, max, ...extra });

/** Numeric text becomes a number only when exact, so a refusal shows what was written. */
const intText = (v: unknown) =>
  typeof v === 'string' && /^\s*-?\d+\s*$/.test(v) && Number.isSafeInteger(Number(v)) ? Number(v) : v;

export const int = (def: number, [min, max]: Range, extra?: Extra) => {
  const n = z.int(says('is not a whole number')).min(min, says(`is below the minimum ${min}`));
  return key(z.preprocess(intText, n.max(max, says(`is above the maximum ${max}`))), def, 'int', {
    min,
    max,
    ...extra,
  });
};

const truth = (v: unknown) => (typeof v === 'object' ? v : (WORDS[String(v).trim().toLowerCase()] ?? v));
export const bool = (def: boolean, extra?: Extra) =>
  key(z.preprocess(truth, z.boolean(says('is not true or false'))), def, 'bool', extra);

/** Case-insensitive; a refused value is shown as written. */
export function oneOf<const V extends readonly [string, ...string[]]>(
  values: V,
  def: V[number],
  extra?: Extra,
) {
  const lower = (v: unknown) =>
    values.includes(String(v).trim().toLowerCase()) ? String(v).trim().toLowerCase() : v;
  return key(z.preprocess(lower, z.enum(values, says(`is not one of ${values.join(', ')}`))), def, 'enum', {
    values,
    ...extra,
  });
}

const target = z
  .string(says('is not a "host:port" string'))
  .trim()
  .transform(throwing((v: string) => checkAddr(v, true)));
export const hostList = () =>
  key(z.preprocess(splitList, z.array(target, says('is not a list of "host:port"'))), [], 'hostList');

const notHost = says('is not a host name or IP address (no port)');
const host = z.string(notHost).trim().refine(isHostName, notHost).toLowerCase();
export const nameList = () =>
  key(z.preprocess(splitList, z.array(host, says('is not a list of host names'))), [], 'nameList');

export function routes<const S extends readonly [string, ...string[]]>(services: S) {
  const action = z.string().regex(ACTION, says('is not a valid action name'));
  const service = z.enum(services, says(`is not a service (use ${services.join(', ')})`));
  const table = z.record(action, service, says('is not a mapping of action -> service'));
  return key(z.preprocess(routePairs, table), {}, 'routes');
}

/** A section of keys; absent (or null in YAML) = all defaults. */
export const section = <T extends z.ZodRawShape>(shape: T) => z.object(shape).prefault({} as never);

/**
 * Reading docker compose files in tests (Docker itself does not run here): services with
 * their environment as compose would pass it, and the gateway config a service mounts,
 * loaded through the config loader as the container would.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parse } from 'yaml';
import { loadConfig } from '../../src/config/load.js';
import type { GatewayConfig } from '../../src/config/schema.js';

export const root = new URL('../..', import.meta.url).pathname;
export const read = (p: string) => readFileSync(join(root, p), 'utf8');

export interface Service {
  image?: string;
  build?: unknown;
  command?: string[];
  ports?: string[];
  expose?: string[];
  environment?: Record<string, string> | string[];
  volumes?: string[];
  healthcheck?: { test: string[] | string };
  depends_on?: Record<string, { condition: string }>;
  network_mode?: string;
}

/** The services of a compose file (a path from the repository root), YAML merge keys applied. */
export function composeServices(file: string): Record<string, Service> {
  return (parse(read(file), { merge: true }) as { services: Record<string, Service> }).services;
}

export function envOf(svc: Service): Record<string, string> {
  if (!svc.environment) return {};
  if (Array.isArray(svc.environment)) {
    return Object.fromEntries(
      svc.environment.map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
    );
  }
  return svc.environment;
}

/** Value given to "${VAR:?message}" (compose refuses to start while VAR is unset). */
export const REQUIRED_VALUE = 'value-the-operator-sets';

/** "${VAR:-default}" -> default (what compose uses when VAR is unset); "${VAR:?msg}" -> a set value. */
export function interpolate(v: string): string {
  return v.replace(/\$\{[A-Z0-9_]+:-([^}]*)\}/g, '$1').replace(/\$\{[A-Z0-9_]+:\?[^}]*\}/g, REQUIRED_VALUE);
}

/** Host path (from the repository root) of the volume a service mounts at `target`. */
export function mountSource(
  svc: Service,
  target: string,
  composeFile = 'docker-compose.yml',
): string | undefined {
  const source = (svc.volumes ?? []).map((v) => v.split(':')).find((parts) => parts[1] === target)?.[0];
  return source === undefined ? undefined : join(dirname(composeFile), source);
}

/** The config file a gateway service mounts at its --config path, loaded as the container would. */
export function mountedGatewayConfig(
  services: Record<string, Service>,
  name: string,
  composeFile = 'docker-compose.yml',
): { file: string; cfg: GatewayConfig } {
  const svc = services[name]!;
  const args = svc.command ?? [];
  const at = args.indexOf('--config');
  assert.ok(at >= 0, `${name}: command has --config`);
  const target = args[at + 1]!;
  const source = mountSource(svc, target, composeFile);
  assert.ok(source, `${name}: a volume is mounted at ${target}`);
  const file = join(root, source);
  assert.ok(existsSync(file), `${name}: ${source} exists`);
  const env = Object.fromEntries(Object.entries(envOf(svc)).map(([k, v]) => [k, interpolate(String(v))]));
  const cfg = loadConfig({ argv: ['--config', file], env });
  return { file, cfg };
}

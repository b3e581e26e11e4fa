// createLogger: pino JSON lines on stdout, or (log.file set) a file rotated at
// log.max_size_mb keeping log.max_files (gatesvr.log, gatesvr.log.1 .. .N, seed 6.4.3).
// Secrets are redacted.

import { basename, dirname, resolve } from 'node:path';
import { type DestinationStream, type Logger, type LoggerOptions, pino } from 'pino';
import { createStream, type RotatingFileStream } from 'rotating-file-stream';
import { isLoadedConfig } from './load.js';
import { LOG_LEVELS, type LogConfig, type LogLevel } from './schema.js';

/** Paths pino censors (top level and one level down, e.g. { req: { token } }). */
export const REDACT_PATHS: readonly string[] = [
  'auth_token',
  'authToken',
  'token',
  'jwt_secret',
  'jwtSecret',
  'authorization',
  '*.auth_token',
  '*.authToken',
  '*.token',
  '*.jwt_secret',
  '*.jwtSecret',
  '*.authorization',
  'headers.authorization',
  '*.headers.authorization',
  'config.auth.jwtSecret',
  'config.admin.token',
  'password',
  '*.password',
  'config.pushApi.token',
  'config.nats.token',
  'config.nats.password',
];

export interface CreateLoggerOptions {
  /** Environment for GATESVR_LOG_LEVEL (default process.env). */
  env?: Readonly<Record<string, string | undefined>>;
  /** Write here instead of stdout/file (tests). */
  destination?: DestinationStream | NodeJS.WritableStream;
  /** Extra pino options (merged last, except redact). */
  pinoOptions?: LoggerOptions;
}

const files = new WeakMap<Logger, RotatingFileStream>();

function envLevel(env: Readonly<Record<string, string | undefined>>): LogLevel | undefined {
  const v = env['GATESVR_LOG_LEVEL']?.trim().toLowerCase();
  return v && (LOG_LEVELS as readonly string[]).includes(v) ? (v as LogLevel) : undefined;
}

/**
 * A pino logger for cfg.log. The level is log.level; GATESVR_LOG_LEVEL overrides it
 * only for a LogConfig that did not come from loadConfig (which already applied the
 * environment and then flags, so a --log-level flag keeps precedence).
 */
export function createLogger(log: LogConfig, opts: CreateLoggerOptions = {}): Logger {
  const env = opts.env ?? process.env;
  const level = isLoadedConfig(log) ? log.level : (envLevel(env) ?? log.level);
  const options: LoggerOptions = {
    name: 'gatesvr',
    level,
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    ...opts.pinoOptions,
    redact: { paths: [...REDACT_PATHS], censor: '[REDACTED]' },
  };
  if (opts.destination) return pino(options, opts.destination as DestinationStream);
  if (log.file === '') return pino(options, pino.destination({ dest: 1, sync: true }));

  const file = resolve(log.file);
  const name = basename(file);
  // Classical logrotate mode calls the generator with the rotation index (null/0 = current).
  const generator = (index: number | Date | null) =>
    typeof index === 'number' && index > 0 ? `${name}.${index}` : name;
  const stream = createStream(generator as (time: number | Date) => string, {
    path: dirname(file),
    size: `${log.maxSizeMb}M`,
    rotate: log.maxFiles,
    mode: 0o640,
  });
  // A failing log file must not crash the gateway: report once on stderr.
  let reported = false;
  stream.on('error', (err) => {
    if (!reported) process.stderr.write(`gatesvr: log file ${file}: ${err.message}\n`);
    reported = true;
  });
  const logger = pino(options, stream);
  files.set(logger, stream);
  return logger;
}

/** Flushes and closes the logger's file stream (no-op for stdout). */
export async function closeLogger(logger: Logger): Promise<void> {
  const stream = files.get(logger);
  if (!stream) {
    logger.flush();
    return;
  }
  files.delete(logger);
  await new Promise<void>((done) => stream.end(done));
}

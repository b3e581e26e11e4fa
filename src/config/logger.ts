// createLogger: pino JSON lines on stdout, or (log.file set) a file rotated at
// log.max_size_mb keeping log.max_files (gatesvr.log, gatesvr.log.1 .. .N, seed 6.4.3).
// Secrets are redacted. Stdout is written asynchronously (a slow reader of the pipe
// must not stall the event loop) with a bounded buffer; closeLogger drains it, and
// pino flushes it synchronously on a fatal process exit.

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

/** Unwritten stdout bytes above this are dropped (and counted) rather than held in memory. */
export const STDOUT_MAX_BUFFERED_BYTES = 16 * 1_048_576;
/** closeLogger waits at most this for a stuck stdout reader. */
const CLOSE_TIMEOUT_MS = 5_000;

type SonicBoom = ReturnType<typeof pino.destination>;
const streams = new WeakMap<Logger, RotatingFileStream | SonicBoom>();

/**
 * Async stdout. Lines that would overflow the buffer are dropped; one warning says how
 * many, written once the flood has eased.
 */
function stdoutDestination(onDropped: (lines: number) => void): SonicBoom {
  const dest = pino.destination({ dest: 1, sync: false, maxLength: STDOUT_MAX_BUFFERED_BYTES });
  let dropped = 0;
  dest.on('drop', () => {
    if (dropped++ > 0) return;
    setTimeout(() => {
      const n = dropped;
      dropped = 0;
      onDropped(n);
    }, 1_000).unref();
  });
  return dest;
}

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
  if (log.file === '') {
    const dest = stdoutDestination((lines) =>
      logger.warn({ lines }, 'log lines dropped: stdout is not read fast enough'),
    );
    const logger = pino(options, dest);
    streams.set(logger, dest);
    return logger;
  }

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
  streams.set(logger, stream);
  return logger;
}

/**
 * Writes out everything buffered and closes the logger's stream (stdout stays open).
 * Bounded by a timeout, so a reader that never drains the pipe cannot hold the exit.
 */
export async function closeLogger(logger: Logger): Promise<void> {
  const stream = streams.get(logger);
  if (!stream) {
    logger.flush();
    return;
  }
  streams.delete(logger);
  // A line logged after this would meet a closed stream (SonicBoom throws): drop it instead.
  logger.level = 'silent';
  await new Promise<void>((done) => {
    const timer = setTimeout(done, CLOSE_TIMEOUT_MS);
    timer.unref();
    const finish = () => {
      clearTimeout(timer);
      done();
    };
    if (!('flushSync' in stream)) stream.end(finish);
    else if ((stream as SonicBoom & { destroyed?: boolean }).destroyed) finish();
    else {
      stream.once('close', finish);
      stream.end();
    }
  });
}

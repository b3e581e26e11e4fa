#!/usr/bin/env node
import type { Logger } from 'pino';
/**
 * gatesvr: run the gateway (default), the demo upstreams, or a terminal client.
 *
 *   gatesvr [--config FILE] [flags]        the gateway (docs/protocol.md section 7)
 *   gatesvr demo-upstreams [--host H] [--hello PORT] [--business PORT] [--zone PORT]
 *   gatesvr client --openid ID [options] <action> [key=value ...]
 *   gatesvr push --openid ID --content TEXT [--grpc-target HOST:PORT]
 *   gatesvr token --openid ID [--ttl 1h] [--secret-file FILE | --key-file PEM]
 */
import { ConfigError, loadConfig } from '../config/load.js';
import { closeLogger, createLogger } from '../config/logger.js';
import type { GatewayConfig } from '../config/schema.js';
import { startGateway } from '../gateway.js';
import { runClientCommand, runPushCommand, runTokenCommand } from './client-command.js';
import { runDemoUpstreams } from './demo-command.js';

const USAGE = `usage:
  gatesvr [--config FILE] [--quic-addr ADDR] [--grpc-addr ADDR] [--http-addr ADDR] [--set key.path=value ...]
  gatesvr demo-upstreams [--host 127.0.0.1] [--hello 8081] [--business 8082] [--zone 8083]
  gatesvr client --openid ID [--addr 127.0.0.1:8453] [--token JWT] [--ca FILE | --insecure] [--zone N]
                 [--listen SECONDS] [--data TEXT] <action> [key=value ...]
  gatesvr push --openid ID --content TEXT [--grpc-target 127.0.0.1:8092] [--title T] [--msg-type T]
               [--ca-file PEM] [--cert-file PEM --key-file PEM]   (token: env GATESVR_PUSH_API_TOKEN)
  gatesvr token --openid ID [--ttl 1h] [--aud A] [--iss I] [--secret-file FILE | --key-file PEM [--kid K]]
                HS256 secret from GATESVR_AUTH_JWT_SECRET unless --secret-file is given (--secret S
                still works but shows the secret in ps); --key-file signs RS256 (RSA) or ES256 (EC P-256)
  gatesvr --help`;

async function runGateway(argv: string[]): Promise<number> {
  let cfg: ReturnType<typeof loadConfig>;
  try {
    cfg = loadConfig({ argv });
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      return 2;
    }
    throw err;
  }
  const logger = createLogger(cfg.log);
  try {
    return await serve(cfg, logger);
  } finally {
    // Stdout is written asynchronously: every line must be out before the process exits.
    await closeLogger(logger);
  }
}

async function serve(cfg: GatewayConfig, logger: Logger): Promise<number> {
  let gw: Awaited<ReturnType<typeof startGateway>>;
  try {
    gw = await startGateway(cfg, { logger });
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    process.stderr.write(`gatesvr: cannot start: ${msg.split('\n')[0]}\n`);
    return 1;
  }
  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      logger.info({ signal }, 'draining');
      const deadline = setTimeout(() => {
        logger.warn({ drainTimeoutMs: cfg.server.drainTimeoutMs }, 'drain deadline passed; exiting');
        resolve(0);
      }, cfg.server.drainTimeoutMs);
      deadline.unref();
      gw.close().then(
        () => {
          clearTimeout(deadline);
          logger.info({}, 'stopped');
          resolve(0);
        },
        (err: unknown) => {
          logger.error({ err: String(err) }, 'error while draining');
          resolve(1);
        },
      );
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
}

/** The USAGE lines of one subcommand (its line and the continuation lines under it). */
function usageOf(command: string): string {
  const lines = USAGE.split('\n');
  const start = lines.findIndex((l) => l.startsWith(`  gatesvr ${command} `));
  const out = [lines[start]!];
  for (const l of lines.slice(start + 1)) {
    if (!/^\s{4,}/.test(l)) break;
    out.push(l);
  }
  return `usage:\n${out.join('\n')}`;
}

async function main(): Promise<number> {
  const argv = process.argv.slice(2);
  const [command, ...rest] = argv;
  const subcommands = ['demo-upstreams', 'client', 'push', 'token'];
  if (command && subcommands.includes(command) && rest.some((a) => a === '--help' || a === '-h')) {
    process.stdout.write(`${usageOf(command)}\n`);
    return 0;
  }
  switch (command) {
    case 'demo-upstreams':
      return runDemoUpstreams(rest);
    case 'client':
      return runClientCommand(rest);
    case 'push':
      return runPushCommand(rest);
    case 'token':
      return runTokenCommand(rest);
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(`${USAGE}\n`);
      return 0;
    default:
      if (command !== undefined && !command.startsWith('-')) {
        process.stderr.write(`gatesvr: unknown command ${JSON.stringify(command)}\n${USAGE}\n`);
        return 2;
      }
      return runGateway(argv);
  }
}

main().then(
  (code) => {
    process.exitCode = code;
    // Listeners and sockets may hold the loop; a finished command exits.
    setTimeout(() => process.exit(code), 50).unref();
  },
  (err: unknown) => {
    process.stderr.write(`gatesvr: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);

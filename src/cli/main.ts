#!/usr/bin/env node
import type { Logger } from 'pino';
/**
 * gatesvr: run the gateway (default), the demo upstreams, a terminal client, a
 * push or a token. Every command's options and `--help` come from commands.ts.
 */
import { ConfigError, loadConfig } from '../config/load.js';
import { closeLogger, createLogger } from '../config/logger.js';
import type { GatewayConfig } from '../config/schema.js';
import { messageOf } from '../errors.js';
import { startGateway } from '../gateway.js';
import { runEventsCommand, runKickCommand, runSessionCommand, runSessionsCommand } from './admin-command.js';
import { runClientCommand, runPushCommand, runTokenCommand } from './client-command.js';
import { GATEWAY_COMMAND, SUBCOMMANDS } from './commands.js';
import { runDemoUpstreams } from './demo-command.js';
import { helpText, UsageError, wantsHelp } from './options.js';

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
    const msg = messageOf(err);
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
          logger.error({ err }, 'error while draining');
          resolve(1);
        },
      );
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
}

async function main(): Promise<number> {
  const argv = process.argv.slice(2);
  const [command, ...rest] = argv;
  const sub = command === undefined ? undefined : SUBCOMMANDS[command];
  if (sub && wantsHelp(rest)) {
    process.stdout.write(helpText(sub));
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
    case 'sessions':
      return runSessionsCommand(rest);
    case 'session':
      return runSessionCommand(rest);
    case 'kick':
      return runKickCommand(rest);
    case 'events':
      return runEventsCommand(rest);
    case 'help':
      process.stdout.write(helpText(GATEWAY_COMMAND));
      return 0;
    default:
      if (command !== undefined && !command.startsWith('-')) {
        process.stderr.write(
          `gatesvr: unknown command ${JSON.stringify(command)} (have: ${Object.keys(SUBCOMMANDS).join(', ')}; see gatesvr --help)\n`,
        );
        return 2;
      }
      if (wantsHelp(argv)) {
        process.stdout.write(helpText(GATEWAY_COMMAND));
        return 0;
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
    // A command line the option table refuses exits 2, like a bad gateway configuration.
    if (err instanceof UsageError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(2);
    }
    process.stderr.write(`gatesvr: ${messageOf(err)}\n`);
    process.exit(1);
  },
);

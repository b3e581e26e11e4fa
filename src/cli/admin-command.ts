/**
 * Operators' commands over the gateway's HTTP admin API: `gatesvr sessions`,
 * `session <id>`, `kick <id>` and `events` (the live SSE stream). Tables on a
 * terminal, JSON lines otherwise; an API error is one stderr line, exit 1.
 */
import { readFileSync } from 'node:fs';
import { AdminApiError, AdminClient } from '../client/admin-client.js';
import { type AdminEvent, eventLine, filterEvent, sessionDetailText, sessionsTable } from './admin-format.js';
import {
  ADMIN_DEFAULT_URL,
  ADMIN_TOKEN_ENV,
  ADMIN_URL_ENV,
  EVENTS_COMMAND,
  KICK_COMMAND,
  SESSION_COMMAND,
  SESSIONS_COMMAND,
} from './commands.js';
import { type CommandSpec, parseCommand, UsageError } from './options.js';

const out = (text: string): void => {
  process.stdout.write(text);
};
const jsonLine = (obj: unknown): void => out(`${JSON.stringify(obj)}\n`);
const tty = (): boolean => process.stdout.isTTY === true;

/** The client from --url / GATESVR_ADMIN_URL and --token-file / GATESVR_ADMIN_TOKEN. */
function client(values: { url?: string | undefined; 'token-file'?: string | undefined }): AdminClient {
  const url = values.url ?? (process.env[ADMIN_URL_ENV] || ADMIN_DEFAULT_URL);
  const file = values['token-file'];
  // One trailing newline is not part of the token (`openssl rand -hex 32 > f`).
  const token =
    file !== undefined
      ? readFileSync(file, 'utf8').replace(/\r?\n$/, '')
      : process.env[ADMIN_TOKEN_ENV] || undefined;
  return new AdminClient(url, token);
}

/** Runs an admin command; an AdminApiError becomes one stderr line and exit 1. */
async function guarded(spec: CommandSpec, run: () => Promise<number>): Promise<number> {
  try {
    return await run();
  } catch (err) {
    if (err instanceof AdminApiError) {
      process.stderr.write(`${spec.invocation}: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
}

function sessionId(spec: CommandSpec, positionals: string[]): string {
  if (positionals.length !== 1 || positionals[0] === '') {
    throw new UsageError(`${spec.invocation}: give exactly one session id (see ${spec.invocation} --help)`);
  }
  return positionals[0]!;
}

export function runSessionsCommand(args: string[]): Promise<number> {
  const { values } = parseCommand(SESSIONS_COMMAND, args);
  return guarded(SESSIONS_COMMAND, async () => {
    const list = await client(values).sessions({ openid: values.openid, phase: values.phase });
    if (tty()) {
      out(sessionsTable(list.sessions));
      if (list.total > list.count) out(`(${list.count} of ${list.total} shown)\n`);
    } else for (const s of list.sessions) jsonLine(s);
    return 0;
  });
}

export function runSessionCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseCommand(SESSION_COMMAND, args);
  const id = sessionId(SESSION_COMMAND, positionals);
  return guarded(SESSION_COMMAND, async () => {
    const s = await client(values).session(id);
    if (tty()) out(sessionDetailText(s));
    else jsonLine(s);
    return 0;
  });
}

export function runKickCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseCommand(KICK_COMMAND, args);
  const id = sessionId(KICK_COMMAND, positionals);
  return guarded(KICK_COMMAND, async () => {
    const r = await client(values).kick(id);
    if (tty()) out(`kicked ${r.sessionId} (openid ${r.openid})\n`);
    else jsonLine(r);
    return 0;
  });
}

export function runEventsCommand(args: string[]): Promise<number> {
  const { values } = parseCommand(EVENTS_COMMAND, args);
  const admin = client(values);
  return guarded(EVENTS_COMMAND, async () => {
    const stop = new AbortController();
    const interrupt = () => stop.abort();
    process.once('SIGINT', interrupt);
    process.once('SIGTERM', interrupt);
    try {
      await admin.events((raw) => {
        let data: unknown;
        try {
          data = JSON.parse(raw.data);
        } catch {
          return; // Not one of the API's events.
        }
        if (data === null || typeof data !== 'object') return;
        const ev = filterEvent({ event: raw.event, data: data as AdminEvent['data'] }, values.openid);
        if (!ev) return;
        if (tty()) out(eventLine(ev, Date.now()));
        else jsonLine({ event: ev.event, ...ev.data });
      }, stop.signal);
    } finally {
      process.off('SIGINT', interrupt);
      process.off('SIGTERM', interrupt);
    }
    return 0;
  });
}

/** Small helpers shared by the gRPC servers (gateway push service, demo upstreams). */
import * as grpc from '@grpc/grpc-js';
import { UnavailableError } from '../../errors.js';
import { joinHostPort } from './service-defs.js';

/** Server options: no channelz bookkeeping per call; accept client keep-alive pings. */
export const DEFAULT_SERVER_OPTIONS: grpc.ServerOptions = {
  'grpc.enable_channelz': 0,
  'grpc.keepalive_permit_without_calls': 1,
};

/** Binds on host:port (0 = a free port; plaintext unless `credentials`) and resolves the bound port. */
export function bindServer(
  server: grpc.Server,
  host: string,
  port: number,
  credentials: grpc.ServerCredentials = grpc.ServerCredentials.createInsecure(),
): Promise<number> {
  return new Promise((resolve, reject) => {
    server.bindAsync(joinHostPort(host, port), credentials, (err, bound) => {
      if (err) reject(err);
      else resolve(bound);
    });
  });
}

/** Graceful shutdown, forced after `graceMs`. */
export function shutdownServer(server: grpc.Server, graceMs = 2000): Promise<void> {
  return new Promise((resolve) => {
    const force = setTimeout(() => {
      server.forceShutdown();
      resolve();
    }, graceMs);
    force.unref();
    server.tryShutdown(() => {
      clearTimeout(force);
      resolve();
    });
  });
}

/**
 * Adapts an async handler to grpc-js: a resolved value is the answer; a thrown/rejected
 * `{ code, details }` becomes that status; anything else becomes INTERNAL. Never throws.
 */
export function unaryHandler<Req, Res>(
  fn: (request: Req, call: grpc.ServerUnaryCall<Req, Res>) => Promise<Res> | Res,
  onError?: (err: unknown) => void,
): grpc.handleUnaryCall<Req, Res> {
  return (call, callback) => {
    let settled = false;
    const fail = (err: unknown): void => {
      if (settled) return;
      settled = true;
      if (isStatusError(err)) {
        callback({ code: err.code, details: err.details ?? grpc.status[err.code] ?? 'error' });
        return;
      }
      if (err instanceof UnavailableError) {
        callback({ code: grpc.status.UNAVAILABLE, details: err.message });
        return;
      }
      onError?.(err);
      callback({ code: grpc.status.INTERNAL, details: err instanceof Error ? err.message : String(err) });
    };
    try {
      Promise.resolve(fn(call.request, call)).then((res) => {
        if (settled) return;
        settled = true;
        callback(null, res);
      }, fail);
    } catch (err) {
      fail(err);
    }
  };
}

/** An error carrying an explicit gRPC status for `unaryHandler`. */
export class StatusError extends Error {
  constructor(
    readonly code: grpc.status,
    readonly details: string,
  ) {
    super(details);
    this.name = 'StatusError';
  }
}

function isStatusError(err: unknown): err is { code: grpc.status; details?: string } {
  return err instanceof StatusError;
}

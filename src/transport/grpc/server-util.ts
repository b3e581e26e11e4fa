/** Small helpers shared by the gRPC servers (gateway push service, demo upstreams). */
import * as grpc from '@grpc/grpc-js';
import { CodedError, toGrpcStatus } from '../../errors.js';
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
 * Adapts an async handler to grpc-js: a resolved value is the answer; a thrown or
 * rejected error becomes the status `toGrpcStatus` gives its code (a StatusError
 * its own); anything unknown becomes INTERNAL and is reported to `onError`. Never throws.
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
      if (err instanceof StatusError) {
        callback({ code: err.status, details: err.message });
        return;
      }
      const answer = toGrpcStatus(err);
      if (answer.code === grpc.status.INTERNAL) onError?.(err);
      callback(answer);
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

/**
 * A failure that names its gRPC status itself, for servers that play an upstream
 * (the demo's `fail` action answers whichever status it is asked for).
 */
export class StatusError extends CodedError<'UPSTREAM_ERROR'> {
  constructor(
    readonly status: grpc.status,
    details: string,
  ) {
    super('UPSTREAM_ERROR', details);
  }
}

/**
 * The gateway's GatewayService (docs/protocol.md section 5): upstreams push to clients
 * through it, one push per call or pipelined on a PushStream (push-stream.ts). Requests
 * are validated here (push-requests.ts); the push logic is behind
 * `PushApi`. A failing `PushApi` call becomes the gRPC status its error code maps to
 * (`toGrpcStatus`: UNAVAILABLE when nothing could be accepted); the server never crashes on one.
 */

import * as grpc from '@grpc/grpc-js';
import { type Logger, silentLogger } from '../../actors/ports.js';
import { bearerChecker } from '../../auth/bearer.js';
import { CodedError, toGrpcStatus } from '../../errors.js';
import type {
  BatchUnicastPushRequest,
  BatchUnicastPushResponse,
  BroadcastRequest,
  BroadcastResponse,
  StreamPushRequest,
  StreamPushResponse,
  UnicastPushRequest,
  UnicastPushResponse,
  UnicastResult,
  UnicastTarget,
} from '../../protocol/messages.js';
import { validatePushId, validateTarget, validateUnicast } from '../push-requests.js';
import { servePushStream } from './push-stream.js';
import { bindServer, DEFAULT_SERVER_OPTIONS, shutdownServer, unaryHandler } from './server-util.js';
import { GatewayServiceDefinition } from './service-defs.js';

export interface PushApi {
  pushToClient(req: UnicastPushRequest): Promise<UnicastPushResponse>;
  batchPush(req: BatchUnicastPushRequest): Promise<BatchUnicastPushResponse>;
  broadcast(req: BroadcastRequest): Promise<BroadcastResponse>;
}

export interface GatewayServer {
  port: number;
  close(): Promise<void>;
}

function badRequest(message: string): UnicastPushResponse {
  return { success: false, message, errorCode: 'BAD_REQUEST' };
}

export interface GatewayServerSecurity {
  /** Every call must carry `authorization: Bearer <token>` ("" or absent = none required). */
  token?: string;
  /** TLS / mTLS (default plaintext). */
  credentials?: grpc.ServerCredentials;
}

const UNAUTHENTICATED_DETAILS = 'push API needs metadata "authorization: Bearer <push_api.token>"';

export async function startGatewayServer(
  addr: { host: string; port: number },
  api: PushApi,
  logger: Logger = silentLogger,
  security: GatewayServerSecurity = {},
): Promise<GatewayServer> {
  const onError = (method: string) => (err: unknown) => logger.warn({ method, err }, 'push api failed');
  const allowed = security.token ? bearerChecker(security.token) : null;
  const authenticated = (call: { metadata: grpc.Metadata; getPeer(): string }): boolean => {
    if (allowed === null) return true;
    const values = call.metadata.get('authorization');
    if (values.length === 1 && allowed(String(values[0]))) return true;
    logger.debug({ peer: call.getPeer() }, 'push api call refused: not authenticated');
    return false;
  };
  const unauthenticated = () => new CodedError('UNAUTHENTICATED', UNAUTHENTICATED_DETAILS);
  // Wraps a handler so that an unauthenticated call is refused before its request is even validated.
  const guarded =
    <Req, Res>(fn: (req: Req) => Promise<Res> | Res) =>
    (req: Req, call: grpc.ServerUnaryCall<Req, Res>): Promise<Res> | Res => {
      if (!authenticated(call)) throw unauthenticated();
      return fn(req);
    };
  const pushOne = (req: UnicastPushRequest): Promise<UnicastPushResponse> | UnicastPushResponse => {
    const bad = validateUnicast(req);
    if (bad !== null) return badRequest(bad);
    return api.pushToClient(req);
  };

  const server = new grpc.Server(DEFAULT_SERVER_OPTIONS);
  server.addService(GatewayServiceDefinition, {
    PushToClient: unaryHandler<UnicastPushRequest, UnicastPushResponse>(
      guarded(pushOne),
      onError('PushToClient'),
    ),

    // The same rules as PushToClient, per push; only a missing token fails the whole stream.
    PushStream: (call: grpc.ServerDuplexStream<StreamPushRequest, StreamPushResponse>) => {
      if (!authenticated(call)) {
        call.emit('error', toGrpcStatus(unauthenticated()));
        return;
      }
      servePushStream(call, pushOne, { onError: onError('PushStream') });
    },

    BatchPushToClients: unaryHandler<BatchUnicastPushRequest, BatchUnicastPushResponse>(
      guarded(async (req) => {
        const targets: UnicastTarget[] = req.targets ?? [];
        const badId = validatePushId(req.pushId);
        // Invalid targets are answered here, the valid ones go to the api; results keep
        // the request's order.
        const results: Array<UnicastResult | undefined> = new Array(targets.length);
        const valid: UnicastTarget[] = [];
        const validAt: number[] = [];
        for (let i = 0; i < targets.length; i++) {
          const t = targets[i]!;
          const bad = badId ?? validateTarget(t.targetType ?? '', t.targetId ?? '');
          if (bad === null) {
            valid.push(t);
            validAt.push(i);
          } else {
            results[i] = {
              targetType: t.targetType ?? '',
              targetId: t.targetId ?? '',
              success: false,
              errorMessage: `BAD_REQUEST: ${bad}`,
            };
          }
        }
        if (valid.length === targets.length) return api.batchPush(req);
        if (valid.length > 0) {
          const res = await api.batchPush({ ...req, targets: valid });
          const got = res.results ?? [];
          for (let j = 0; j < validAt.length; j++) {
            const t = valid[j]!;
            results[validAt[j]!] = got[j] ?? {
              targetType: t.targetType,
              targetId: t.targetId,
              success: false,
              errorMessage: 'no result',
            };
          }
        }
        let successCount = 0;
        for (const r of results) if (r?.success) successCount++;
        return { successCount, totalCount: targets.length, results: results as UnicastResult[] };
      }),
      onError('BatchPushToClients'),
    ),

    BroadcastToClients: unaryHandler<BroadcastRequest, BroadcastResponse>(
      guarded((req) => {
        const zone = req.zone ?? 0;
        if (!Number.isSafeInteger(zone) || zone < 0) {
          return {
            success: false,
            message: `BAD_REQUEST: zone must be >= 0, got ${zone}`,
            deliveredCount: 0,
          };
        }
        const badId = validatePushId(req.pushId);
        if (badId !== null) return { success: false, message: `BAD_REQUEST: ${badId}`, deliveredCount: 0 };
        return api.broadcast(req);
      }),
      onError('BroadcastToClients'),
    ),
  });

  const port = await bindServer(server, addr.host, addr.port, security.credentials);
  logger.info({ host: addr.host, port }, 'gateway gRPC service listening');
  return {
    port,
    close: () => shutdownServer(server),
  };
}

/**
 * The gateway's GatewayService (docs/protocol.md section 5): upstreams push to clients
 * through it. Requests are validated here; the push logic is behind `PushApi`. A failing
 * `PushApi` call becomes gRPC INTERNAL; the server never crashes on one.
 */
import * as grpc from '@grpc/grpc-js';
import { bearerChecker } from '../../auth/bearer.js';
import type {
  BatchUnicastPushRequest,
  BatchUnicastPushResponse,
  BroadcastRequest,
  BroadcastResponse,
  UnicastPushRequest,
  UnicastPushResponse,
  UnicastResult,
  UnicastTarget,
} from '../../protocol/messages.js';
import { type GrpcLogger, silentLogger } from './logger.js';
import {
  bindServer,
  DEFAULT_SERVER_OPTIONS,
  StatusError,
  shutdownServer,
  unaryHandler,
} from './server-util.js';
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

const MAX_TARGET_ID_BYTES = 1024;
/** Longest push_id (docs/protocol.md section 5, v1.1). */
export const MAX_PUSH_ID_BYTES = 128;

/** Why a push id is invalid, or null when it is fine ('' and absent mean no de-duplication). */
export function validatePushId(pushId: string | undefined): string | null {
  if (pushId === undefined || pushId === '') return null;
  if (typeof pushId !== 'string') return 'push_id must be a string';
  if (Buffer.byteLength(pushId) > MAX_PUSH_ID_BYTES) return `push_id longer than ${MAX_PUSH_ID_BYTES} bytes`;
  return null;
}

/** Why a target is invalid, or null when it is fine. */
export function validateTarget(targetType: string, targetId: string): string | null {
  if (targetType !== 'session' && targetType !== 'openid') {
    return `target_type must be "session" or "openid", got "${String(targetType).slice(0, 32)}"`;
  }
  if (typeof targetId !== 'string' || targetId === '') return 'target_id must not be empty';
  if (Buffer.byteLength(targetId) > MAX_TARGET_ID_BYTES)
    return `target_id longer than ${MAX_TARGET_ID_BYTES} bytes`;
  return null;
}

/** Why a unicast push request is invalid, or null when it is fine. */
export function validateUnicast(req: UnicastPushRequest): string | null {
  const bad = validateTarget(req.targetType ?? '', req.targetId ?? '');
  if (bad !== null) return bad;
  const hint = req.syncHint ?? 0;
  if (!Number.isInteger(hint) || hint < 0 || hint > 2) return `sync_hint must be 0..2, got ${hint}`;
  return validatePushId(req.pushId);
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
  logger: GrpcLogger = silentLogger,
  security: GatewayServerSecurity = {},
): Promise<GatewayServer> {
  const onError = (method: string) => (err: unknown) =>
    logger.warn({ method, err: err instanceof Error ? err.message : String(err) }, 'push api failed');
  const allowed = security.token ? bearerChecker(security.token) : null;
  // Wraps a handler so that an unauthenticated call is refused before its request is even validated.
  const guarded =
    <Req, Res>(fn: (req: Req) => Promise<Res> | Res) =>
    (req: Req, call: grpc.ServerUnaryCall<Req, Res>): Promise<Res> | Res => {
      if (allowed !== null) {
        const values = call.metadata.get('authorization');
        if (values.length !== 1 || !allowed(String(values[0]))) {
          logger.debug({ peer: call.getPeer() }, 'push api call refused: not authenticated');
          throw new StatusError(grpc.status.UNAUTHENTICATED, UNAUTHENTICATED_DETAILS);
        }
      }
      return fn(req);
    };

  const server = new grpc.Server(DEFAULT_SERVER_OPTIONS);
  server.addService(GatewayServiceDefinition, {
    PushToClient: unaryHandler<UnicastPushRequest, UnicastPushResponse>(
      guarded((req) => {
        const bad = validateUnicast(req);
        if (bad !== null) return badRequest(bad);
        return api.pushToClient(req);
      }),
      onError('PushToClient'),
    ),

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

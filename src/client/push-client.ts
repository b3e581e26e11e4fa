/**
 * A promise-based client of the gateway's GatewayService (PushToClient,
 * BatchPushToClients, BroadcastToClients, PushStream), for upstream services,
 * tools and tests.
 */
import * as grpc from '@grpc/grpc-js';
import { bearerHeader } from '../auth/bearer.js';
import type {
  BatchUnicastPushRequest,
  BatchUnicastPushResponse,
  BroadcastRequest,
  BroadcastResponse,
  UnicastPushRequest,
  UnicastPushResponse,
} from '../protocol/messages.js';
import { GatewayServiceClient, type UnaryMethod } from '../transport/grpc/service-defs.js';
import { PushStream, type PushStreamOptions } from './push-stream.js';

export interface PushClientOptions {
  /** Deadline of one call (default 10 s). */
  timeoutMs?: number;
  /** grpc-js channel options (e.g. reconnect backoff for a producer that fails over). */
  channelOptions?: grpc.ChannelOptions;
  /** The gateway's push_api.token: sent as `authorization: Bearer <token>` on every call. */
  token?: string;
  /**
   * TLS to the gateway (push_api.cert_file set): `ca` = PEM the server certificate must
   * chain to (omit for the system roots); `cert` + `key` = client certificate for mTLS.
   * `serverName` checks the certificate for that name instead of the target's host.
   */
  tls?: { ca?: string | Buffer; cert?: string | Buffer; key?: string | Buffer; serverName?: string };
}

const buf = (v: string | Buffer | undefined): Buffer | null =>
  v === undefined ? null : Buffer.isBuffer(v) ? v : Buffer.from(v);

export class PushClient {
  private readonly client: GatewayServiceClient;
  private readonly timeoutMs: number;
  private readonly authorization: string | null;

  /** `new PushClient(target, timeoutMs?, channelOptions?)` or `new PushClient(target, options)`. */
  constructor(
    target: string,
    timeoutOrOptions: number | PushClientOptions = {},
    channelOptions: grpc.ChannelOptions = {},
  ) {
    const o: PushClientOptions =
      typeof timeoutOrOptions === 'number'
        ? { timeoutMs: timeoutOrOptions, channelOptions }
        : timeoutOrOptions;
    this.timeoutMs = o.timeoutMs ?? 10_000;
    this.authorization = o.token ? bearerHeader(o.token) : null;
    const tls = o.tls;
    const credentials = tls
      ? grpc.credentials.createSsl(buf(tls.ca), buf(tls.key), buf(tls.cert))
      : grpc.credentials.createInsecure();
    const options: grpc.ChannelOptions = {
      ...o.channelOptions,
      ...(tls?.serverName ? { 'grpc.ssl_target_name_override': tls.serverName } : {}),
    };
    this.client = new GatewayServiceClient(target, credentials, options);
  }

  push(req: Partial<UnicastPushRequest>): Promise<UnicastPushResponse> {
    return this.call(this.client.PushToClient, req);
  }

  batch(req: Partial<BatchUnicastPushRequest>): Promise<BatchUnicastPushResponse> {
    return this.call(this.client.BatchPushToClients, req);
  }

  broadcast(req: Partial<BroadcastRequest>): Promise<BroadcastResponse> {
    return this.call(this.client.BroadcastToClients, req);
  }

  /**
   * A PushStream: pushes pipelined on one gRPC stream, accepted in the order `push` is
   * called (docs/protocol.md section 8, "Streaming pushes"). No deadline: the stream
   * lives until closed.
   */
  stream(options: PushStreamOptions = {}): PushStream {
    return new PushStream(this.client.PushStream(this.metadata()), options);
  }

  close(): void {
    this.client.close();
  }

  private metadata(): grpc.Metadata {
    const metadata = new grpc.Metadata();
    if (this.authorization !== null) metadata.set('authorization', this.authorization);
    return metadata;
  }

  private call<Req, Res>(method: UnaryMethod<Req, Res>, req: Partial<Req>): Promise<Res> {
    return new Promise((resolve, reject) => {
      const options: Partial<grpc.CallOptions> = { deadline: Date.now() + this.timeoutMs };
      const done: grpc.requestCallback<Res> = (err, res) => (err ? reject(err) : resolve(res!));
      method.call(this.client, req, this.metadata(), options, done);
    });
  }
}

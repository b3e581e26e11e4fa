/**
 * A promise-based client of the gateway's GatewayService (PushToClient,
 * BatchPushToClients, BroadcastToClients), for upstream services, tools and tests.
 */
import * as grpc from '@grpc/grpc-js';
import type {
  BatchUnicastPushRequest,
  BatchUnicastPushResponse,
  BroadcastRequest,
  BroadcastResponse,
  UnicastPushRequest,
  UnicastPushResponse,
} from '../protocol/messages.js';
import { GatewayServiceClient, type UnaryMethod } from '../transport/grpc/service-defs.js';

export class PushClient {
  private readonly client: GatewayServiceClient;

  constructor(
    target: string,
    private readonly timeoutMs = 10_000,
    /** grpc-js channel options (e.g. reconnect backoff for a producer that fails over). */
    channelOptions: grpc.ChannelOptions = {},
  ) {
    this.client = new GatewayServiceClient(target, grpc.credentials.createInsecure(), channelOptions);
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

  close(): void {
    this.client.close();
  }

  private call<Req, Res>(method: UnaryMethod<Req, Res>, req: Partial<Req>): Promise<Res> {
    return new Promise((resolve, reject) => {
      const options: Partial<grpc.CallOptions> = { deadline: Date.now() + this.timeoutMs };
      const done: grpc.requestCallback<Res> = (err, res) => (err ? reject(err) : resolve(res!));
      method.call(this.client, req, new grpc.Metadata(), options, done);
    });
  }
}

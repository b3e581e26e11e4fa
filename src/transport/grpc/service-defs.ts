/**
 * grpc-js service definitions for docs/protocol.md section 5, built on the reflection codecs
 * of src/protocol/messages.ts (no proto-loader). Method keys are the proto method names;
 * `originalName` is the camelCase alias grpc-js also exposes on generated clients.
 */
import * as grpc from '@grpc/grpc-js';
import {
  BatchUnicastPushRequest,
  BatchUnicastPushResponse,
  BroadcastRequest,
  BroadcastResponse,
  type Codec,
  StatusRequest,
  StatusResponse,
  UnicastPushRequest,
  UnicastPushResponse,
  UpstreamRequest,
  UpstreamResponse,
} from '../../protocol/messages.js';

export const UPSTREAM_SERVICE_NAME = 'gatesvr.v1.UpstreamService';
export const GATEWAY_SERVICE_NAME = 'gatesvr.v1.GatewayService';

/** protobufjs already returns a Buffer under Node; wrap (no copy) anything else. */
function toBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Serializer for grpc-js: encodes with the codec, returns a Buffer. */
export function serializerOf<T>(codec: Codec<T>): (value: Partial<T>) => Buffer {
  return (value) => toBuffer(codec.encode(value));
}

/** Deserializer for grpc-js: throws on malformed input (grpc-js turns that into INTERNAL). */
export function deserializerOf<T>(codec: Codec<T>): (bytes: Buffer) => T {
  return (bytes) => codec.decode(bytes);
}

function unary<Req, Res>(
  service: string,
  method: string,
  req: Codec<Req>,
  res: Codec<Res>,
): grpc.MethodDefinition<Req, Res> {
  return {
    path: `/${service}/${method}`,
    requestStream: false,
    responseStream: false,
    requestSerialize: serializerOf(req) as (value: Req) => Buffer,
    requestDeserialize: deserializerOf(req),
    responseSerialize: serializerOf(res) as (value: Res) => Buffer,
    responseDeserialize: deserializerOf(res),
    originalName: method.charAt(0).toLowerCase() + method.slice(1),
  };
}

export const UpstreamServiceDefinition = {
  ProcessRequest: unary(UPSTREAM_SERVICE_NAME, 'ProcessRequest', UpstreamRequest, UpstreamResponse),
  GetStatus: unary(UPSTREAM_SERVICE_NAME, 'GetStatus', StatusRequest, StatusResponse),
} satisfies grpc.ServiceDefinition;

export const GatewayServiceDefinition = {
  PushToClient: unary(GATEWAY_SERVICE_NAME, 'PushToClient', UnicastPushRequest, UnicastPushResponse),
  BatchPushToClients: unary(
    GATEWAY_SERVICE_NAME,
    'BatchPushToClients',
    BatchUnicastPushRequest,
    BatchUnicastPushResponse,
  ),
  BroadcastToClients: unary(GATEWAY_SERVICE_NAME, 'BroadcastToClients', BroadcastRequest, BroadcastResponse),
} satisfies grpc.ServiceDefinition;

/** Callback-style unary method of a generic client (grpc-js argument forms). */
export interface UnaryMethod<Req, Res> {
  (request: Partial<Req>, callback: grpc.requestCallback<Res>): grpc.ClientUnaryCall;
  (request: Partial<Req>, metadata: grpc.Metadata, callback: grpc.requestCallback<Res>): grpc.ClientUnaryCall;
  (
    request: Partial<Req>,
    options: Partial<grpc.CallOptions>,
    callback: grpc.requestCallback<Res>,
  ): grpc.ClientUnaryCall;
  (
    request: Partial<Req>,
    metadata: grpc.Metadata,
    options: Partial<grpc.CallOptions>,
    callback: grpc.requestCallback<Res>,
  ): grpc.ClientUnaryCall;
}

export interface UpstreamServiceClient extends grpc.Client {
  ProcessRequest: UnaryMethod<UpstreamRequest, UpstreamResponse>;
  processRequest: UnaryMethod<UpstreamRequest, UpstreamResponse>;
  GetStatus: UnaryMethod<StatusRequest, StatusResponse>;
  getStatus: UnaryMethod<StatusRequest, StatusResponse>;
}

export interface GatewayServiceClient extends grpc.Client {
  PushToClient: UnaryMethod<UnicastPushRequest, UnicastPushResponse>;
  pushToClient: UnaryMethod<UnicastPushRequest, UnicastPushResponse>;
  BatchPushToClients: UnaryMethod<BatchUnicastPushRequest, BatchUnicastPushResponse>;
  batchPushToClients: UnaryMethod<BatchUnicastPushRequest, BatchUnicastPushResponse>;
  BroadcastToClients: UnaryMethod<BroadcastRequest, BroadcastResponse>;
  broadcastToClients: UnaryMethod<BroadcastRequest, BroadcastResponse>;
}

type ClientCtor<C> = new (
  address: string,
  credentials: grpc.ChannelCredentials,
  options?: Partial<grpc.ChannelOptions>,
) => C;

export const UpstreamServiceClient = grpc.makeGenericClientConstructor(
  UpstreamServiceDefinition,
  'UpstreamService',
) as unknown as ClientCtor<UpstreamServiceClient>;

export const GatewayServiceClient = grpc.makeGenericClientConstructor(
  GatewayServiceDefinition,
  'GatewayService',
) as unknown as ClientCtor<GatewayServiceClient>;

/** `host:port`, bracketing IPv6 literals. */
export function joinHostPort(host: string, port: number): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]:${port}` : `${host}:${port}`;
}

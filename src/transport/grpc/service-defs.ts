/**
 * grpc-js service definitions for docs/protocol.md section 5, derived from the method descriptors
 * that protobufjs-cli generates into src/gen/ (path, request and response type per method; no
 * proto-loader). Method keys are the proto method names; `originalName` is the camelCase alias
 * grpc-js also exposes on generated clients. Unary and bidirectional-streaming methods are
 * supported (PushStream); one-sided streaming is refused at load, as nothing uses it.
 */
import * as grpc from '@grpc/grpc-js';
import { type Codec, codecOf, type Message, type MessageName, services } from '../../protocol/messages.js';

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

/** What the generated code attaches to each service method (its rpc line in the .proto). */
interface MethodDescriptor {
  readonly name: string;
  readonly path: string;
  readonly requestType: string;
  readonly responseType: string;
  readonly requestStream?: boolean;
  readonly responseStream?: boolean;
}

type Descriptors<S> = { [K in keyof S as S[K] extends MethodDescriptor ? K : never]: S[K] };
type MessageOf<T> = T extends MessageName ? Message<T> : never;
/** The grpc-js definition of generated service S: one unary method per rpc, keyed by proto name. */
type DefinitionOf<S> = {
  [K in keyof Descriptors<S> as Descriptors<S>[K] extends { readonly name: infer N extends string }
    ? N
    : never]: Descriptors<S>[K] extends { readonly requestType: infer Q; readonly responseType: infer R }
    ? grpc.MethodDefinition<MessageOf<Q>, MessageOf<R>>
    : never;
};

/** Package-relative message name (descriptors carry the name as written in the .proto). */
function messageName(type: string): MessageName {
  return type.slice(type.lastIndexOf('.') + 1) as MessageName;
}

function definitionOf<S extends object>(service: { prototype: S }): DefinitionOf<S> {
  const def: Record<string, grpc.MethodDefinition<object, object>> = {};
  const proto = service.prototype as Record<string, unknown>;
  for (const key of Object.getOwnPropertyNames(proto)) {
    const m = proto[key];
    if (typeof m !== 'function' || typeof (m as Partial<MethodDescriptor>).path !== 'string') continue;
    const d = m as unknown as MethodDescriptor; // not the constructor: a method with its descriptor
    const bidi = d.requestStream === true;
    if (bidi !== (d.responseStream === true))
      throw new Error(`${d.path}: only unary and bidirectional streaming are supported`);
    const req = codecOf(messageName(d.requestType)) as Codec<object>;
    const res = codecOf(messageName(d.responseType)) as Codec<object>;
    def[d.name] = {
      path: d.path,
      requestStream: bidi,
      responseStream: bidi,
      requestSerialize: serializerOf(req),
      requestDeserialize: deserializerOf(req),
      responseSerialize: serializerOf(res),
      responseDeserialize: deserializerOf(res),
      originalName: key,
    };
  }
  return def as unknown as DefinitionOf<S>;
}

/** `gatesvr.v1.UpstreamService`: the service part of a method path. */
function serviceNameOf(def: grpc.ServiceDefinition): string {
  const first = Object.values(def)[0];
  if (!first) throw new Error('generated service has no methods');
  return first.path.split('/')[1]!;
}

export const UpstreamServiceDefinition = definitionOf(
  services.UpstreamService,
) satisfies grpc.ServiceDefinition;
export const GatewayServiceDefinition = definitionOf(
  services.GatewayService,
) satisfies grpc.ServiceDefinition;

export const UPSTREAM_SERVICE_NAME = serviceNameOf(UpstreamServiceDefinition);
export const GATEWAY_SERVICE_NAME = serviceNameOf(GatewayServiceDefinition);

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

/** Bidirectional-streaming method of a generic client (grpc-js argument forms). */
export interface BidiMethod<Req, Res> {
  (metadata?: grpc.Metadata, options?: Partial<grpc.CallOptions>): grpc.ClientDuplexStream<Req, Res>;
  (options?: Partial<grpc.CallOptions>): grpc.ClientDuplexStream<Req, Res>;
}

/** The client method type of one descriptor: streaming ones return a duplex stream. */
type MethodOf<D> = D extends {
  readonly requestType: infer Q;
  readonly responseType: infer R;
  readonly requestStream: infer B;
}
  ? B extends true
    ? BidiMethod<MessageOf<Q>, MessageOf<R>>
    : UnaryMethod<MessageOf<Q>, MessageOf<R>>
  : never;

/** A generic client of generated service S: each rpc under its proto name and camelCase alias. */
type ClientOf<S> = grpc.Client & {
  [K in keyof Descriptors<S> as
    | K
    | (Descriptors<S>[K] extends { readonly name: infer N extends string } ? N : never)]: MethodOf<
    Descriptors<S>[K]
  >;
};

export type UpstreamServiceClient = ClientOf<InstanceType<typeof services.UpstreamService>>;
export type GatewayServiceClient = ClientOf<InstanceType<typeof services.GatewayService>>;

type ClientCtor<C> = new (
  address: string,
  credentials: grpc.ChannelCredentials,
  options?: Partial<grpc.ChannelOptions>,
) => C;

export const UpstreamServiceClient = grpc.makeGenericClientConstructor(
  UpstreamServiceDefinition,
  services.UpstreamService.name,
) as unknown as ClientCtor<UpstreamServiceClient>;

export const GatewayServiceClient = grpc.makeGenericClientConstructor(
  GatewayServiceDefinition,
  services.GatewayService.name,
) as unknown as ClientCtor<GatewayServiceClient>;

/** `host:port`, bracketing IPv6 literals. */
export function joinHostPort(host: string, port: number): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]:${port}` : `${host}:${port}`;
}

/**
 * Protobuf messages of docs/protocol.md sections 2 and 5: a thin layer over the code that
 * protobufjs-cli generates from proto/*.proto into src/gen/ (`npm run generate`). The types are
 * the generated ones, with enum fields widened to number (src/protocol/codes.ts holds the
 * contract's names) and the runtime's bookkeeping ($unknowns) left out.
 * Static code was chosen over ts-proto and protobuf-es for speed (docs/benchmarks.md, codec).
 * uint64 fields decode as JS numbers (set up inside the generated module): seqs stay far below 2^53.
 */
import { gatesvr } from '../gen/proto.js';

const pb = gatesvr.v1;

/** Message names of package gatesvr.v1 (the generated classes). */
export type MessageName = {
  [K in keyof typeof pb]: (typeof pb)[K] extends { decode(r: Uint8Array): unknown; encode(m: never): unknown }
    ? K
    : never;
}[keyof typeof pb];

type NoBookkeeping<K> = K extends `$${string}` ? never : K;
/**
 * A decoded value: enums as numbers, and nested messages complete (the generated types call them
 * "properties", all optional, but decode builds instances whose defaults are filled in).
 */
type Decoded<T> = T extends Uint8Array
  ? T
  : T extends number
    ? number
    : T extends readonly (infer E)[]
      ? Decoded<E>[]
      : T extends object
        ? string extends keyof T
          ? T // a map
          : { [K in keyof T as NoBookkeeping<K>]-?: Decoded<NonNullable<T[K]>> }
        : T;
/** The decoded shape of message `N`: the generated class's fields, minus the runtime's `$unknowns`. */
export type Message<N extends MessageName> = {
  [K in keyof InstanceType<(typeof pb)[N]> as NoBookkeeping<K>]: Decoded<InstanceType<(typeof pb)[N]>[K]>;
};

export type ClientRequest = Message<'ClientRequest'>;
export type ServerPush = Message<'ServerPush'>;
export type StartRequest = Message<'StartRequest'>;
export type ErrorMessage = Message<'ErrorMessage'>;
export type StartResponse = Message<'StartResponse'>;
export type StopRequest = Message<'StopRequest'>;
export type HeartbeatRequest = Message<'HeartbeatRequest'>;
export type HeartbeatResponse = Message<'HeartbeatResponse'>;
export type BusinessRequest = Message<'BusinessRequest'>;
export type BusinessResponse = Message<'BusinessResponse'>;
export type ClientAck = Message<'ClientAck'>;
export type NotifyMessage = Message<'NotifyMessage'>;
export type UpstreamRequest = Message<'UpstreamRequest'>;
export type UpstreamResponse = Message<'UpstreamResponse'>;
export type StatusRequest = Message<'StatusRequest'>;
export type StatusResponse = Message<'StatusResponse'>;
export type UnicastPushRequest = Message<'UnicastPushRequest'>;
export type UnicastPushResponse = Message<'UnicastPushResponse'>;
export type UnicastTarget = Message<'UnicastTarget'>;
export type BatchUnicastPushRequest = Message<'BatchUnicastPushRequest'>;
export type UnicastResult = Message<'UnicastResult'>;
export type BatchUnicastPushResponse = Message<'BatchUnicastPushResponse'>;
export type BroadcastRequest = Message<'BroadcastRequest'>;
export type BroadcastResponse = Message<'BroadcastResponse'>;
export type StreamPushRequest = Message<'StreamPushRequest'>;
export type StreamPushResponse = Message<'StreamPushResponse'>;

/** Encoder/decoder pair for one message type. */
export interface Codec<T> {
  readonly name: string;
  encode(message: Partial<T>): Uint8Array;
  /** Throws on malformed input. */
  decode(bytes: Uint8Array): T;
}

interface Generated {
  encode(message: never): { finish(): Uint8Array };
  decode(bytes: Uint8Array): unknown;
}

const codecs = new Map<string, Codec<unknown>>();

/** The codec of message `name` (as a service descriptor names it: `UpstreamRequest`). */
export function codecOf<N extends MessageName>(name: N): Codec<Message<N>> {
  let c = codecs.get(name);
  if (!c) {
    const type = pb[name] as unknown as Generated;
    const encode = type.encode as (m: unknown) => { finish(): Uint8Array };
    c = { name, encode: (m) => encode(m).finish(), decode: (b) => type.decode(b) };
    codecs.set(name, c);
  }
  return c as Codec<Message<N>>;
}

export const ClientRequest = codecOf('ClientRequest');
export const ServerPush = codecOf('ServerPush');
export const StartRequest = codecOf('StartRequest');
export const StartResponse = codecOf('StartResponse');
export const StopRequest = codecOf('StopRequest');
export const HeartbeatRequest = codecOf('HeartbeatRequest');
export const HeartbeatResponse = codecOf('HeartbeatResponse');
export const BusinessRequest = codecOf('BusinessRequest');
export const BusinessResponse = codecOf('BusinessResponse');
export const ErrorMessage = codecOf('ErrorMessage');
export const ClientAck = codecOf('ClientAck');
export const NotifyMessage = codecOf('NotifyMessage');
export const UpstreamRequest = codecOf('UpstreamRequest');
export const UpstreamResponse = codecOf('UpstreamResponse');
export const StatusRequest = codecOf('StatusRequest');
export const StatusResponse = codecOf('StatusResponse');
export const UnicastPushRequest = codecOf('UnicastPushRequest');
export const UnicastPushResponse = codecOf('UnicastPushResponse');
export const BatchUnicastPushRequest = codecOf('BatchUnicastPushRequest');
export const BatchUnicastPushResponse = codecOf('BatchUnicastPushResponse');
export const BroadcastRequest = codecOf('BroadcastRequest');
export const BroadcastResponse = codecOf('BroadcastResponse');
export const StreamPushRequest = codecOf('StreamPushRequest');
export const StreamPushResponse = codecOf('StreamPushResponse');

/** The generated services of package gatesvr.v1 (method descriptors on their prototypes). */
export const services = { UpstreamService: pb.UpstreamService, GatewayService: pb.GatewayService };

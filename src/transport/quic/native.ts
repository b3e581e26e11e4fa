/**
 * The only place that touches @matrixai/quic: the raw quiche binding and the
 * construction of quiche configs.
 */
import { readFileSync } from 'node:fs';
import { native } from '@matrixai/quic';
import type { TlsFiles, TlsPem } from './types.js';

export const quiche = native.quiche;
export type NativeConnection = native.Connection;
export type NativeConfig = native.Config;
export type NativeHostPort = native.Host;
export type NativeSendInfo = native.SendInfo;
export type NativeRecvInfo = native.RecvInfo;
export type NativePathEvent = native.PathEvent;

/** Length of the connection ids this engine issues (short-header routing relies on it). */
export const CID_LEN = 20;
export const MAX_DATAGRAM = quiche.MAX_DATAGRAM_SIZE;
export const DEFAULT_ALPN = ['gatesvr/1'];

/** Validate a maxUdpPayload option (default 1350, safe on the internet). */
export function checkPayload(v: number | undefined): number {
  if (v === undefined) return MAX_DATAGRAM;
  if (!Number.isInteger(v) || v < 1200 || v > 65527)
    throw new RangeError('maxUdpPayload must be 1200..65527');
  return v;
}

const SIGALGS = [
  'rsa_pkcs1_sha256',
  'rsa_pkcs1_sha384',
  'rsa_pkcs1_sha512',
  'rsa_pss_rsae_sha256',
  'rsa_pss_rsae_sha384',
  'rsa_pss_rsae_sha512',
  'ecdsa_secp256r1_sha256',
  'ecdsa_secp384r1_sha384',
  'ecdsa_secp521r1_sha512',
  'ed25519',
].join(':');

const enc = new TextEncoder();

export function loadTls(tls: TlsFiles | TlsPem): TlsPem {
  if ('certPem' in tls) return tls;
  return { certPem: readFileSync(tls.certFile, 'utf8'), keyPem: readFileSync(tls.keyFile, 'utf8') };
}

interface CommonConfig {
  alpn: string[];
  idleTimeoutMs: number;
  /** Largest UDP payload sent and accepted. */
  maxUdpPayload: number;
}

function tune(cfg: NativeConfig, o: CommonConfig): void {
  cfg.grease(true);
  cfg.setApplicationProtos(o.alpn);
  cfg.setMaxIdleTimeout(o.idleTimeoutMs);
  cfg.setMaxRecvUdpPayloadSize(o.maxUdpPayload);
  cfg.setMaxSendUdpPayloadSize(o.maxUdpPayload);
  cfg.setInitialMaxData(4 * 1024 * 1024);
  cfg.setInitialMaxStreamDataBidiLocal(1024 * 1024);
  cfg.setInitialMaxStreamDataBidiRemote(1024 * 1024);
  cfg.setInitialMaxStreamDataUni(0);
  cfg.setInitialMaxStreamsUni(0);
  cfg.setMaxStreamWindow(8 * 1024 * 1024);
  cfg.setMaxConnectionWindow(12 * 1024 * 1024);
}

export function serverConfig(o: CommonConfig & { tls: TlsPem }): NativeConfig {
  const cfg = quiche.Config.withBoringSslCtx(
    false,
    false,
    null,
    [enc.encode(o.tls.keyPem)],
    [enc.encode(o.tls.certPem)],
    SIGALGS,
  );
  tune(cfg, o);
  // The client opens one session stream; a few more are allowed only so that
  // extra streams can be refused with a reset instead of a connection error.
  cfg.setInitialMaxStreamsBidi(4);
  cfg.setDisableActiveMigration(false);
  cfg.setActiveConnectionIdLimit(8);
  return cfg;
}

export function clientConfig(o: CommonConfig & { caPem?: string; insecure: boolean }): NativeConfig {
  const verify = !o.insecure;
  const cfg = quiche.Config.withBoringSslCtx(
    verify,
    false,
    verify && o.caPem ? enc.encode(o.caPem) : null,
    null,
    null,
    SIGALGS,
  );
  tune(cfg, o);
  cfg.setInitialMaxStreamsBidi(0);
  cfg.setActiveConnectionIdLimit(4);
  return cfg;
}

/**
 * gRPC transport security from the config (docs/security-services.md): the push
 * server's TLS / mTLS credentials and bearer token, and the TLS credentials of
 * upstream channels. Files are read once, at start; rotating them means a restart.
 */
import * as grpc from '@grpc/grpc-js';
import { ConfigError } from '../../config/load.js';
import type { PushApiConfig, UpstreamTlsConfig } from '../../config/schema.js';
import { readCertAndKey, readConfigFile } from '../../config/tls.js';

const bytes = async (file: string, key: string): Promise<Buffer> =>
  Buffer.from(await readConfigFile(file, key), 'utf8');

/** The push API token: push_api.token, or the trimmed content of push_api.token_file ("" = none). */
export async function resolvePushToken(cfg: PushApiConfig): Promise<string> {
  if (cfg.tokenFile === '') return cfg.token;
  const token = (await readConfigFile(cfg.tokenFile, 'push_api.token_file')).trim();
  if (token === '') {
    throw new ConfigError(
      `config: push_api.token_file: ${JSON.stringify(cfg.tokenFile)} is empty`,
      'push_api.token_file',
    );
  }
  if (/\s/.test(token)) {
    throw new ConfigError(
      `config: push_api.token_file: ${JSON.stringify(cfg.tokenFile)} holds more than one word (a token has no spaces)`,
      'push_api.token_file',
    );
  }
  return token;
}

export interface PushServerSecurity {
  credentials: grpc.ServerCredentials;
  tls: boolean;
  mtls: boolean;
}

/** Plaintext, TLS (cert_file + key_file) or mTLS (+ client_ca_file: a client certificate is required). */
export async function pushServerCredentials(cfg: PushApiConfig): Promise<PushServerSecurity> {
  if (cfg.certFile === '') {
    return { credentials: grpc.ServerCredentials.createInsecure(), tls: false, mtls: false };
  }
  const [pair, ca] = await Promise.all([
    readCertAndKey(cfg.certFile, cfg.keyFile, 'push_api.cert_file', 'push_api.key_file'),
    cfg.clientCaFile === '' ? null : bytes(cfg.clientCaFile, 'push_api.client_ca_file'),
  ]);
  const credentials = grpc.ServerCredentials.createSsl(
    ca,
    [{ cert_chain: Buffer.from(pair.certPem), private_key: Buffer.from(pair.keyPem) }],
    ca !== null,
  );
  return { credentials, tls: true, mtls: ca !== null };
}

/** True when upstream calls use TLS (explicitly, or implied by a CA or client certificate). */
export function upstreamTlsEnabled(cfg: UpstreamTlsConfig): boolean {
  return cfg.enabled || cfg.caFile !== '' || cfg.certFile !== '';
}

export interface ChannelSecurity {
  credentials: grpc.ChannelCredentials;
  channelOptions: Partial<grpc.ChannelOptions>;
}

/** Credentials for every configured upstream channel; null = plaintext. */
export async function upstreamChannelSecurity(cfg: UpstreamTlsConfig): Promise<ChannelSecurity | null> {
  if (!upstreamTlsEnabled(cfg)) return null;
  const [ca, pair] = await Promise.all([
    cfg.caFile === '' ? null : bytes(cfg.caFile, 'upstream_tls.ca_file'),
    cfg.certFile === ''
      ? null
      : readCertAndKey(cfg.certFile, cfg.keyFile, 'upstream_tls.cert_file', 'upstream_tls.key_file'),
  ]);
  return {
    credentials: grpc.credentials.createSsl(
      ca,
      pair ? Buffer.from(pair.keyPem) : null,
      pair ? Buffer.from(pair.certPem) : null,
    ),
    channelOptions:
      cfg.serverName === ''
        ? {}
        : { 'grpc.ssl_target_name_override': cfg.serverName, 'grpc.default_authority': cfg.serverName },
  };
}

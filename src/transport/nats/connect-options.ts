/**
 * The nats.js connection options from the config (docs/security-services.md): TLS
 * (nats.tls_*), one authentication method (creds file, nkey seed file, token, or
 * user + password) and a one-line, credential-free error when the first connect fails.
 * Files are read once, at start; rotating them means a restart.
 */
import {
  type Authenticator,
  type ConnectionOptions,
  credsAuthenticator,
  nkeyAuthenticator,
  type TlsOptions,
} from 'nats';
import type { NatsConfig } from '../../config/schema.js';
import { readCertAndKey, readConfigFile } from '../../config/tls.js';
import {
  natsServers,
  redactNatsUrls,
  redactUrlsIn,
  splitUrlCredentials,
} from '../../config/url-credentials.js';
import { NatsConnectError } from '../../errors.js';

export interface NatsSecurity {
  options: Pick<ConnectionOptions, 'servers' | 'tls' | 'authenticator' | 'token' | 'user' | 'pass'>;
  /** Which authentication is configured (for the start log; never the secret). */
  auth: 'creds_file' | 'nkey_seed_file' | 'token' | 'user' | 'url' | 'none';
  tls: boolean;
}

const text = (file: string, key: string) => readConfigFile(file, key);

async function authenticatorOf(cfg: NatsConfig): Promise<Authenticator | undefined> {
  if (cfg.credsFile !== '') {
    return credsAuthenticator(new TextEncoder().encode(await text(cfg.credsFile, 'nats.creds_file')));
  }
  if (cfg.nkeySeedFile !== '') {
    const seed = (await text(cfg.nkeySeedFile, 'nats.nkey_seed_file')).trim();
    return nkeyAuthenticator(new TextEncoder().encode(seed));
  }
  return undefined;
}

async function tlsOf(cfg: NatsConfig): Promise<TlsOptions | undefined> {
  if (cfg.tlsCaFile === '' && cfg.tlsCertFile === '') return undefined;
  const [ca, pair] = await Promise.all([
    cfg.tlsCaFile === '' ? undefined : text(cfg.tlsCaFile, 'nats.tls_ca_file'),
    cfg.tlsCertFile === ''
      ? undefined
      : readCertAndKey(cfg.tlsCertFile, cfg.tlsKeyFile, 'nats.tls_cert_file', 'nats.tls_key_file'),
  ]);
  return { ...(ca ? { ca } : {}), ...(pair ? { cert: pair.certPem, key: pair.keyPem } : {}) };
}

/** Reads the configured files; throws ConfigError naming the key of an unreadable one. */
export async function natsSecurity(cfg: NatsConfig): Promise<NatsSecurity> {
  const split = natsServers(cfg.url).map(splitUrlCredentials);
  const fromUrl = split.find((s) => s.credentials !== null)?.credentials ?? null;
  const [authenticator, tls] = await Promise.all([authenticatorOf(cfg), tlsOf(cfg)]);
  const configured: NatsSecurity['auth'] =
    cfg.credsFile !== ''
      ? 'creds_file'
      : cfg.nkeySeedFile !== ''
        ? 'nkey_seed_file'
        : cfg.token !== ''
          ? 'token'
          : cfg.user !== ''
            ? 'user'
            : 'none';
  // Configured credentials win; those in the URL still work (the caller warns about them).
  const url = configured === 'none' ? fromUrl : null;
  const options: NatsSecurity['options'] = {
    servers: split.map((s) => s.url),
    ...(tls ? { tls } : {}),
    ...(authenticator ? { authenticator } : {}),
    ...(cfg.token !== '' ? { token: cfg.token } : {}),
    ...(cfg.user !== '' ? { user: cfg.user, pass: cfg.password } : {}),
    ...(url && 'token' in url ? { token: url.token } : {}),
    ...(url && 'user' in url ? { user: url.user, pass: url.pass } : {}),
  };
  return { options, auth: url ? 'url' : configured, tls: tls !== undefined };
}

/** A failed first connect as one line naming the servers (redacted) and the likely fix. */
export function natsConnectError(url: string, err: unknown): NatsConnectError {
  const e = err as { code?: string; message?: string };
  const where = redactNatsUrls(url);
  const raw = redactUrlsIn(String(e?.message ?? err).split('\n')[0]!);
  if (e?.code === 'AUTHORIZATION_VIOLATION' || /authoriz|authenticat/i.test(raw)) {
    return new NatsConnectError(
      'NATS_AUTH',
      `NATS at ${where} refused the credentials (authorization violation): check nats.token, nats.user/nats.password, nats.creds_file or nats.nkey_seed_file`,
      { cause: err },
    );
  }
  if (/tls|certificate|ssl|self.signed|handshake/i.test(raw)) {
    return new NatsConnectError(
      'NATS_TLS',
      `NATS at ${where}: TLS failed (${raw}): check nats.tls_ca_file / nats.tls_cert_file / nats.tls_key_file`,
      { cause: err },
    );
  }
  return new NatsConnectError('NATS_CONNECT', `NATS at ${where}: cannot connect (${raw})`, { cause: err });
}

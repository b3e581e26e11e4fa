/**
 * Every security file is read here, before anything listens: a bad key or
 * certificate stops the start rather than a listener half up.
 */
import type { Logger } from '../actors/ports.js';
import { type Authenticator, guardAuthenticator, jwtAuthenticator, noAuth } from '../auth/authenticator.js';
import { openPushApi } from '../config/exposure.js';
import { jwtPolicyOf, loadJwtKey } from '../config/jwt-keys.js';
import type { GatewayConfig } from '../config/schema.js';
import { ensureTls, type TlsMaterial } from '../config/tls.js';
import {
  type ChannelSecurity,
  type PushServerSecurity,
  pushServerCredentials,
  resolvePushToken,
  upstreamChannelSecurity,
} from '../transport/grpc/credentials.js';
import type { Closers } from './closers.js';

export interface Security {
  tls: TlsMaterial;
  auth: Authenticator;
  /** Bearer token producers must send ("" = none). */
  pushToken: string;
  pushSecurity: PushServerSecurity;
  upstreamTls: ChannelSecurity | null;
}

export async function loadSecurity(
  cfg: GatewayConfig,
  authenticator: Authenticator | undefined,
  logger: Logger,
  closers: Closers,
): Promise<Security> {
  const tls = await ensureTls(cfg);
  const auth = guardAuthenticator(authenticator ?? (await authenticatorOf(cfg, logger, closers)));
  if (tls.selfSigned) logger.info({ certFile: tls.certFile }, 'using a self-signed certificate');
  const [pushToken, pushSecurity, upstreamTls] = await Promise.all([
    resolvePushToken(cfg.pushApi),
    pushServerCredentials(cfg.pushApi),
    upstreamChannelSecurity(cfg.upstreamTls),
  ]);
  warnIfPushApiOpen(cfg, pushToken, pushSecurity, logger);
  return { tls, auth, pushToken, pushSecurity, upstreamTls };
}

async function authenticatorOf(cfg: GatewayConfig, logger: Logger, closers: Closers): Promise<Authenticator> {
  if (cfg.auth.mode !== 'jwt') return noAuth;
  const jwt = await loadJwtKey(cfg.auth, logger);
  closers.add(jwt.close);
  return jwtAuthenticator(jwt.key, jwtPolicyOf(cfg.auth));
}

function warnIfPushApiOpen(
  cfg: GatewayConfig,
  pushToken: string,
  pushSecurity: PushServerSecurity,
  logger: Logger,
): void {
  const open = openPushApi({
    grpcAddr: cfg.server.grpcAddr,
    token: pushToken !== '',
    mtls: pushSecurity.mtls,
  });
  if (open === null) return;
  logger.warn(
    {
      alert: 'UNAUTHENTICATED_PUSH_API',
      grpcAddr: cfg.server.grpcAddr,
      fix: 'set push_api.token (GATESVR_PUSH_API_TOKEN or push_api.token_file), push_api.client_ca_file, or bind server.grpc_addr to 127.0.0.1',
    },
    `SECURITY: ${open}`,
  );
}

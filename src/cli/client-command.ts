/**
 * Terminal tools: `gatesvr client` (log in, call an action, print answers and
 * notifies as JSON lines), `gatesvr push` (GatewayService.PushToClient) and
 * `gatesvr token` (mint a token for auth.mode jwt: HS256 with the secret from the
 * environment or a file, RS256/ES256 with a private key file).
 */
import { createPrivateKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { SignJWT } from 'jose';
import { hs256SecretProblem } from '../auth/key-rules.js';
import { GateClient } from '../client/gate-client.js';
import { PushClient } from '../client/push-client.js';
import { parseDuration } from '../config/duration.js';
import { parseAddr } from '../config/schema.js';
import { GateError } from '../errors.js';
import { CLIENT_COMMAND, PUSH_COMMAND, PUSH_TOKEN_ENV, TOKEN_COMMAND, TOKEN_SECRET_ENV } from './commands.js';
import { parseCommand } from './options.js';

const text = (b: Uint8Array): string => Buffer.from(b).toString('utf8');
const print = (obj: object): void => {
  process.stdout.write(`${JSON.stringify(obj)}\n`);
};

function keyValues(items: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of items) {
    const eq = item.indexOf('=');
    if (eq <= 0) throw new Error(`expected key=value, got ${JSON.stringify(item)}`);
    out[item.slice(0, eq)] = item.slice(eq + 1);
  }
  return out;
}

export async function runClientCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseCommand(CLIENT_COMMAND, args);
  if (!values.openid) throw new Error('client: --openid is required');
  if (!values.ca && !values.insecure) {
    throw new Error(
      'client: pass --ca FILE to verify the gateway, or --insecure for a self-signed demo gateway',
    );
  }
  const { host, port } = parseAddr(values.addr, { requireHost: true });
  const client = await GateClient.connect({
    host,
    port,
    openid: values.openid,
    authToken: values.token,
    caPem: values.ca ? readFileSync(values.ca, 'utf8') : undefined,
    insecure: values.insecure,
    serverName: 'localhost',
  });
  print({ event: 'started', sessionId: client.sessionId, resumed: client.resumed, zone: client.zone });
  client.onDelivered((d) => {
    if (d.kind === 'notify') {
      const n = d.notify;
      print({
        event: 'notify',
        seq: d.seq,
        msgType: n.msgType,
        title: n.title,
        content: n.content,
        data: text(n.data),
      });
    }
  });
  try {
    if (!values['no-login'] && client.zone === 0) {
      const a = await client.request('hello', { zone: values.zone });
      print({ event: 'login', code: a.code, message: a.message, zone: a.headers.zone });
    }
    const [action, ...params] = positionals;
    if (action) {
      const a = await client.request(action, keyValues(params), Buffer.from(values.data));
      print({
        event: 'answer',
        action,
        seq: a.seq,
        code: a.code,
        message: a.message,
        data: text(a.data),
        headers: a.headers,
      });
    }
    const listenMs = parseDuration(/^\d+$/.test(values.listen) ? `${values.listen}s` : values.listen);
    if (listenMs > 0) await new Promise((r) => setTimeout(r, listenMs));
  } catch (err) {
    if (err instanceof GateError) {
      print({ event: 'error', code: err.code, message: err.message, detail: err.detail });
      await client.stop();
      return 1;
    }
    throw err;
  }
  await client.stop();
  return 0;
}

export async function runPushCommand(args: string[]): Promise<number> {
  const { values } = parseCommand(PUSH_COMMAND, args);
  if (!values.openid && !values.session) throw new Error('push: --openid or --session is required');
  // The token comes from the environment only: a flag would show it in `ps`.
  const token = process.env[PUSH_TOKEN_ENV] || undefined;
  const pem = (file: string | undefined) => (file ? readFileSync(file) : undefined);
  const tls =
    values['ca-file'] || values['cert-file']
      ? { ca: pem(values['ca-file']), cert: pem(values['cert-file']), key: pem(values['key-file']) }
      : undefined;
  const client = new PushClient(values['grpc-target'], { token, tls });
  const res = await client.push({
    targetType: values.session ? 'session' : 'openid',
    targetId: values.session ?? values.openid,
    msgType: values['msg-type'],
    title: values.title,
    content: values.content,
  });
  client.close();
  print({ event: 'pushed', success: res.success, message: res.message, errorCode: res.errorCode });
  return res.success ? 0 : 1;
}

/** One trailing newline is not part of a secret file's secret (`openssl rand -base64 48 > f`). */
const withoutNewline = (t: string): string => t.replace(/\r?\n$/, '');

type SigningKey = { alg: 'HS256'; key: Uint8Array } | { alg: 'RS256' | 'ES256'; key: KeyObject };

function signingKey(values: { secret?: string; 'secret-file'?: string; 'key-file'?: string }): SigningKey {
  const given = [values.secret, values['secret-file'], values['key-file']].filter((v) => v !== undefined);
  if (given.length > 1) throw new Error('token: give only one of --secret-file, --key-file, --secret');
  if (values['key-file'] !== undefined) {
    const key = createPrivateKey(readFileSync(values['key-file'], 'utf8'));
    const t = key.asymmetricKeyType;
    const curve = key.asymmetricKeyDetails?.namedCurve;
    if (t === 'rsa') return { alg: 'RS256', key };
    if (t === 'ec' && curve === 'prime256v1') return { alg: 'ES256', key };
    throw new Error('token: --key-file must be an RSA (RS256) or EC P-256 (ES256) private key');
  }
  let secret: string | undefined;
  if (values['secret-file'] !== undefined)
    secret = withoutNewline(readFileSync(values['secret-file'], 'utf8'));
  else if (values.secret !== undefined) {
    // Still accepted for scripts, but the value is visible to every user in `ps`.
    process.stderr.write(
      `gatesvr token: warning: --secret puts the secret in the process list; use ${TOKEN_SECRET_ENV} or --secret-file\n`,
    );
    secret = values.secret;
  } else secret = process.env[TOKEN_SECRET_ENV];
  if (!secret) throw new Error(`token: set ${TOKEN_SECRET_ENV}, or pass --secret-file or --key-file`);
  const weak = hs256SecretProblem(secret);
  if (weak) throw new Error(`token: ${weak}`);
  return { alg: 'HS256', key: new TextEncoder().encode(secret) };
}

export async function runTokenCommand(args: string[]): Promise<number> {
  const { values } = parseCommand(TOKEN_COMMAND, args);
  if (!values.openid) throw new Error('token: --openid is required');
  const { alg, key } = signingKey(values);
  const ttlSec = Math.ceil(parseDuration(values.ttl) / 1000);
  const jwt = new SignJWT({})
    .setProtectedHeader({ alg, typ: 'JWT', ...(values.kid ? { kid: values.kid } : {}) })
    .setSubject(values.openid)
    .setIssuedAt()
    .setExpirationTime(Math.floor(Date.now() / 1000) + ttlSec);
  if (values.aud) jwt.setAudience(values.aud);
  if (values.iss) jwt.setIssuer(values.iss);
  process.stdout.write(`${await jwt.sign(key)}\n`);
  return 0;
}

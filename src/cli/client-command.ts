/**
 * Terminal tools: `gatesvr client` (log in, call an action, print answers and
 * notifies as JSON lines), `gatesvr push` (GatewayService.PushToClient) and
 * `gatesvr token` (mint an HS256 token for auth.mode jwt).
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { SignJWT } from 'jose';
import { GateClient } from '../client/gate-client.js';
import { PushClient } from '../client/push-client.js';
import { parseDuration } from '../config/duration.js';
import { parseAddr } from '../config/schema.js';
import { GateError } from '../protocol/codes.js';

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
  const { values, positionals } = parseArgs({
    args,
    options: {
      addr: { type: 'string', default: '127.0.0.1:8453' },
      openid: { type: 'string' },
      token: { type: 'string', default: '' },
      ca: { type: 'string' },
      insecure: { type: 'boolean', default: false },
      zone: { type: 'string', default: '1' },
      data: { type: 'string', default: '' },
      listen: { type: 'string', default: '0' },
      'no-login': { type: 'boolean', default: false },
    },
    allowPositionals: true,
    strict: true,
  });
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
  const { values } = parseArgs({
    args,
    options: {
      'grpc-target': { type: 'string', default: '127.0.0.1:8092' },
      openid: { type: 'string' },
      session: { type: 'string' },
      content: { type: 'string', default: '' },
      title: { type: 'string', default: '' },
      'msg-type': { type: 'string', default: 'cli' },
      'ca-file': { type: 'string' },
      'cert-file': { type: 'string' },
      'key-file': { type: 'string' },
    },
    strict: true,
  });
  if (!values.openid && !values.session) throw new Error('push: --openid or --session is required');
  // The token comes from the environment only: a flag would show it in `ps`.
  const token = process.env['GATESVR_PUSH_API_TOKEN'] || undefined;
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

export async function runTokenCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      secret: { type: 'string' },
      openid: { type: 'string' },
      ttl: { type: 'string', default: '1h' },
    },
    strict: true,
  });
  if (!values.secret || !values.openid) throw new Error('token: --secret and --openid are required');
  const ttlSec = Math.ceil(parseDuration(values.ttl) / 1000);
  const token = await new SignJWT({})
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(values.openid)
    .setIssuedAt()
    .setExpirationTime(Math.floor(Date.now() / 1000) + ttlSec)
    .sign(new TextEncoder().encode(values.secret));
  process.stdout.write(`${token}\n`);
  return 0;
}

/**
 * `gatesvr sessions | session | kick | events` against a real gateway (admin
 * token set, inspector on) with real SDK client sessions, each command run as a
 * child process the way an operator runs it (stdout a pipe: JSON lines).
 */
import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { after, before, describe, it } from 'node:test';
import type { GateClient } from '../../src/client/gate-client.js';
import type { Gateway } from '../../src/gateway.js';
import type { CloseInfo } from '../../src/transport/quic/types.js';
import { connectClient, login, startTestGateway, waitFor } from '../helpers/gateway.js';

const ROOT = new URL('../..', import.meta.url).pathname;
const TOKEN = 'admin-cli-test-token-0123456789';
const CLI = ['--import', 'tsx', 'src/cli/main.ts'];

interface Run {
  status: number | null;
  out: string;
  err: string;
}

describe('gatesvr admin commands', () => {
  let gw: Gateway;
  let alice: GateClient;
  let env: NodeJS.ProcessEnv;
  const children: ChildProcess[] = [];

  const gatesvr = (args: string[], extraEnv: NodeJS.ProcessEnv = {}): Promise<Run> =>
    new Promise((resolve) => {
      execFile(
        process.execPath,
        [...CLI, ...args],
        { cwd: ROOT, env: { ...env, ...extraEnv }, timeout: 30_000 },
        (err, out, errOut) => {
          const code = (err as { code?: unknown } | null)?.code;
          resolve({ status: err ? (typeof code === 'number' ? code : null) : 0, out, err: errOut });
        },
      );
    });
  const jsonLines = (text: string) =>
    text
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => JSON.parse(l) as Record<string, unknown>);

  before(async () => {
    gw = await startTestGateway({
      admin: { token: TOKEN, loopbackOnly: true },
      inspector: { enabled: true },
    });
    env = {
      ...process.env,
      GATESVR_ADMIN_URL: `http://127.0.0.1:${gw.addresses.http.port}`,
      GATESVR_ADMIN_TOKEN: TOKEN,
    };
    alice = await connectClient(gw, 'alice');
    await login(alice, '3');
  });

  after(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    alice.close();
    await gw.close();
  });

  it('sessions lists the session as a JSON line, filtered by openid and phase', async () => {
    const r = await gatesvr(['sessions', '--openid', 'alice', '--phase', 'normal']);
    assert.equal(r.status, 0, r.err);
    const lines = jsonLines(r.out);
    assert.equal(lines.length, 1, r.out);
    assert.equal(lines[0]!.openid, 'alice');
    assert.equal(lines[0]!.sessionId, alice.sessionId);
    assert.equal(lines[0]!.zone, 3);
    const inited = await gatesvr(['sessions', '--openid', 'alice', '--phase', 'inited']);
    assert.equal(inited.status, 0, inited.err);
    assert.equal(inited.out, '');
  });

  it('session ID shows the snapshot with its pending pushes', async () => {
    const r = await gatesvr(['session', alice.sessionId]);
    assert.equal(r.status, 0, r.err);
    const [s] = jsonLines(r.out);
    assert.equal(s!.sessionId, alice.sessionId);
    assert.equal(s!.openid, 'alice');
    assert.equal(s!.phase, 'normal');
    assert.ok(Array.isArray(s!.pendingPushes));
    assert.ok(Array.isArray(s!.inflightRequests));
  });

  it('an API error is one stderr line with the status and error, exit non-zero', async () => {
    const wrong = await gatesvr(['sessions'], { GATESVR_ADMIN_TOKEN: 'not-the-admin-token' });
    assert.notEqual(wrong.status, 0);
    assert.equal(wrong.out, '');
    assert.equal(wrong.err.trimEnd().split('\n').length, 1, wrong.err);
    assert.match(wrong.err, /^gatesvr sessions: HTTP 403 forbidden: bad admin token$/m);

    const none = await gatesvr(['session', 'no-such-session']);
    assert.notEqual(none.status, 0);
    assert.equal(none.err.trimEnd().split('\n').length, 1, none.err);
    assert.match(none.err, /HTTP 404 session_not_found/);
  });

  it('events --openid prints the events of that openid as JSON lines until interrupted', async () => {
    const child = spawn(process.execPath, [...CLI, 'events', '--openid', 'bob'], { cwd: ROOT, env });
    children.push(child);
    const lines: Record<string, unknown>[] = [];
    let buffered = '';
    let changed: () => void = () => {};
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      buffered += chunk;
      const parts = buffered.split('\n');
      buffered = parts.pop()!;
      for (const p of parts) if (p.trim() !== '') lines.push(JSON.parse(p) as Record<string, unknown>);
      changed();
    });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (c: string) => {
      stderr += c;
    });
    const exited = once(child, 'exit');
    const lineWhere = (pred: (l: Record<string, unknown>) => boolean) =>
      new Promise<Record<string, unknown>>((resolve, reject) => {
        const check = () => {
          const hit = lines.find(pred);
          if (hit) resolve(hit);
          else if (child.exitCode !== null) reject(new Error(`events exited: ${stderr}`));
        };
        changed = check;
        child.once('exit', check);
        check();
      });

    // The snapshot is the first line: the stream is open and later changes reach it.
    const snap = await lineWhere((l) => l.event === 'snapshot');
    assert.deepEqual(snap.sessions, []);
    const bob = await connectClient(gw, 'bob');
    try {
      const seen = await lineWhere((l) => l.event === 'session');
      const session = seen.session as { openid: string; sessionId: string };
      assert.equal(session.openid, 'bob');
      assert.equal(session.sessionId, bob.sessionId);
      assert.ok(
        !lines.some((l) => l.event === 'session' && (l.session as { openid: string }).openid !== 'bob'),
      );
    } finally {
      bob.close();
    }
    child.kill('SIGINT');
    const [code] = await exited;
    assert.equal(code, 0, stderr);
  });

  it('kick ID ends the session: the SDK client sees its connection close', async () => {
    const closed = new Promise<CloseInfo>((resolve) => alice.onClose(resolve));
    const r = await gatesvr(['kick', alice.sessionId]);
    assert.equal(r.status, 0, r.err);
    assert.deepEqual(jsonLines(r.out), [{ kicked: true, sessionId: alice.sessionId, openid: 'alice' }]);
    const info = await closed;
    assert.equal(info.code, 0);
    await waitFor(() => gw.system.get(alice.sessionId) === undefined, 5000, 'session removed');
    const gone = await gatesvr(['sessions', '--openid', 'alice']);
    assert.equal(gone.status, 0, gone.err);
    assert.equal(gone.out, '');
  });
});

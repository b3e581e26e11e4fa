import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import { after, before, describe, test } from 'node:test';
import {
  type ClientConnection,
  type CloseInfo,
  connectQuic,
  createQuicServer,
  type QuicClientOptions,
  type QuicServer,
  type QuicServerOptions,
  type StreamConnection,
} from '../../src/transport/quic/index.js';
import { CID_LEN, quiche } from '../../src/transport/quic/native.js';
import { makeSelfSignedCert, makeTestCert, type TestCert } from '../helpers/certs.js';
import { guard, until } from '../helpers/quic.js';

function closed(c: StreamConnection): Promise<CloseInfo> {
  return new Promise((resolve) => {
    c.onClose = resolve;
  });
}

/** Resolves with the first `n` bytes received. */
function collect(c: StreamConnection, n: number): Promise<Buffer> {
  return new Promise((resolve) => {
    const parts: Buffer[] = [];
    let got = 0;
    c.onData = (d) => {
      parts.push(Buffer.from(d));
      got += d.length;
      if (got >= n) resolve(Buffer.concat(parts).subarray(0, n));
    };
  });
}

/** Write everything, honouring backpressure. */
async function writeAll(c: StreamConnection, data: Buffer, chunk = 16 * 1024): Promise<void> {
  for (let off = 0; off < data.length; off += chunk) {
    if (!c.write(data.subarray(off, off + chunk))) {
      await new Promise<void>((resolve) => {
        c.onDrain = resolve;
      });
    }
  }
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

let cert: TestCert;
before(async () => {
  cert = await makeTestCert();
});

interface Harness {
  server: QuicServer;
  port: number;
  conns: StreamConnection[];
  client(o?: Partial<QuicClientOptions>): Promise<ClientConnection>;
  /** A client that has had one byte echoed, and the first connection the server surfaced. */
  echoed(o?: Partial<QuicClientOptions>): Promise<{ c: ClientConnection; sc: StreamConnection }>;
}

async function start(o: Partial<QuicServerOptions> = {}, echo = true): Promise<Harness> {
  const server = createQuicServer({ host: '127.0.0.1', port: 0, tls: cert, ...o });
  const conns: StreamConnection[] = [];
  server.onConnection = (c) => {
    conns.push(c);
    if (echo) c.onData = (d) => void c.write(d);
  };
  const { port } = await server.listen();
  const clients: ClientConnection[] = [];
  after(async () => {
    for (const c of clients) c.close(0);
    await server.close();
  });
  const h: Harness = {
    server,
    port,
    conns,
    async client(co = {}) {
      const c = await connectQuic({ host: '127.0.0.1', port, caPem: cert.certPem, ...co });
      clients.push(c);
      return c;
    },
    async echoed(co = {}) {
      const c = await h.client(co);
      const echoed = collect(c, 1);
      c.write(Buffer.from('x'));
      await guard(echoed, 5000, 'echo');
      return { c, sc: conns[0]! };
    },
  };
  return h;
}

describe('quic engine', () => {
  test('handshake, server sees the connection once the session stream carries data', async () => {
    const h = await start();
    const seen = new Promise<StreamConnection>((resolve) => {
      h.server.onConnection = (c) => {
        c.onData = (d) => void c.write(d);
        resolve(c);
      };
    });
    const c = await h.client();
    assert.equal(c.closed, false);
    assert.match(c.id, /^[0-9a-f]+$/);
    const echoed = collect(c, 5);
    c.write(Buffer.from('hello'));
    const sc = await guard(seen, 5000, 'onConnection');
    assert.equal(sc.id, c.id, 'both sides name the connection by the original dcid');
    assert.equal(sc.remote.host, '127.0.0.1');
    assert.equal((await guard(echoed, 5000, 'echo')).toString(), 'hello');
    const k = c.counters();
    assert.ok(k.packetsSent > 0 && k.packetsReceived > 0 && k.bytesSent > 0);
    assert.ok(h.server.counters().packetsReceived > 0);
  });

  test('ALPN mismatch is refused; insecure client without CA works; unknown CA refused', async () => {
    const h = await start();
    await assert.rejects(guard(h.client({ alpn: ['other/1'] }), 10_000, 'refusal'), /handshake failed/);
    await assert.rejects(
      // A different self-signed CA, to check that verification really happens.
      guard(
        connectQuic({ host: '127.0.0.1', port: h.port, caPem: (await makeSelfSignedCert()).certPem }),
        10_000,
        'ca',
      ),
      /handshake failed/,
    );
    const c = await connectQuic({ host: '127.0.0.1', port: h.port, insecure: true });
    const echoed = collect(c, 2);
    c.write(Buffer.from('ok'));
    assert.equal((await guard(echoed, 5000, 'echo')).toString(), 'ok');
    c.close(0);
    await assert.rejects(() => connectQuic({ host: '127.0.0.1', port: h.port }), /caPem/);
  });

  test('many small writes in one turn are echoed in order', async () => {
    const h = await start();
    const c = await h.client();
    const msgs: Buffer[] = [];
    for (let i = 0; i < 2000; i++) msgs.push(Buffer.from(`m${i};`));
    const all = Buffer.concat(msgs);
    const echoed = collect(c, all.length);
    for (const m of msgs) c.write(m);
    assert.equal((await guard(echoed, 10_000, 'echo')).toString(), all.toString());
  });

  test('1 MiB each way with flow control and backpressure', async () => {
    const h = await start({ highWaterMark: 64 * 1024 }, false);
    const payload = randomBytes(1024 * 1024);
    const serverGot = new Promise<Buffer>((resolve) => {
      h.server.onConnection = (sc) => {
        const parts: Buffer[] = [];
        let n = 0;
        sc.onData = (d) => {
          parts.push(Buffer.from(d));
          n += d.length;
          if (n === payload.length) {
            const all = Buffer.concat(parts);
            resolve(all);
            // echo it back, honouring backpressure
            void writeAll(sc, all);
          }
        };
      };
    });
    const c = await h.client({ highWaterMark: 64 * 1024 });
    const back = collect(c, payload.length);
    let sawBackpressure = false;
    for (let off = 0; off < payload.length; off += 32 * 1024) {
      if (!c.write(payload.subarray(off, off + 32 * 1024))) {
        sawBackpressure = true;
        assert.ok(c.bufferedBytes > 64 * 1024);
        await guard(
          new Promise<void>((r) => {
            c.onDrain = r;
          }),
          10_000,
          'drain',
        );
      }
    }
    assert.ok(sawBackpressure, 'write() reported backpressure');
    assert.equal(sha(await guard(serverGot, 15_000, 'upload')), sha(payload));
    assert.equal(sha(await guard(back, 15_000, 'download')), sha(payload));
  });

  for (const code of [0x10, 0x11, 0x12]) {
    test(`server close code 0x${code.toString(16)} reaches the client after pending data`, async () => {
      const h = await start({}, false);
      const tail = randomBytes(200 * 1024);
      h.server.onConnection = (sc) => {
        sc.onData = () => {
          sc.write(tail);
          sc.close(code, 'bye');
          assert.equal(sc.closed, true);
          assert.equal(sc.write(Buffer.from('late')), false, 'writes after close are dropped');
        };
      };
      const c = await h.client();
      const got = collect(c, tail.length);
      const info = closed(c);
      c.write(Buffer.from('go'));
      assert.equal(sha(await guard(got, 10_000, 'tail')), sha(tail), 'pending writes flushed before close');
      const ci = await guard(info, 10_000, 'close');
      assert.deepEqual(
        { code: ci.code, isApp: ci.isApp, byPeer: ci.byPeer, reason: ci.reason },
        { code, isApp: true, byPeer: true, reason: 'bye' },
      );
    });
  }

  test('client close is seen by the server, and both sides fire onClose once', async () => {
    const h = await start();
    const { c, sc } = await h.echoed();
    let serverCloses = 0;
    let clientCloses = 0;
    const s = new Promise<CloseInfo>((resolve) => {
      sc.onClose = (i) => {
        serverCloses++;
        resolve(i);
      };
    });
    const l = new Promise<CloseInfo>((resolve) => {
      c.onClose = (i) => {
        clientCloses++;
        resolve(i);
      };
    });
    c.close(0x11, 'taken over');
    c.close(0x12);
    const si = await guard(s, 5000, 'server close');
    const li = await guard(l, 5000, 'client close');
    assert.deepEqual([si.code, si.isApp, si.byPeer, si.reason], [0x11, true, true, 'taken over']);
    assert.deepEqual([li.code, li.isApp, li.byPeer], [0x11, true, false]);
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(serverCloses, 1);
    assert.equal(clientCloses, 1);
    await until(() => h.server.connectionCount === 0, 10_000, 'server to forget the connection', 20);
  });

  test('idle timeout closes both sides with reason idle_timeout', async () => {
    const h = await start({ idleTimeoutMs: 300 });
    const { c, sc } = await h.echoed({ idleTimeoutMs: 300 });
    const [ci, si] = await guard(Promise.all([closed(c), closed(sc)]), 10_000, 'idle close');
    assert.equal(ci.reason, 'idle_timeout');
    assert.equal(si.reason, 'idle_timeout');
    assert.equal(ci.byPeer, false);
  });

  test('keep-alive holds an idle connection open', async () => {
    const h = await start({ idleTimeoutMs: 400 });
    const { c } = await h.echoed({ idleTimeoutMs: 400, keepAliveMs: 100 });
    let closedEarly = false;
    c.onClose = () => {
      closedEarly = true;
    };
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(closedEarly, false);
    const again = collect(c, 1);
    c.write(Buffer.from('y'));
    assert.equal((await guard(again, 5000, 'echo after idle')).toString(), 'y');
  });

  test('peer finishing the session stream ends the connection', async () => {
    const h = await start();
    const { c, sc } = await h.echoed();
    const si = closed(sc);
    const ci = closed(c);
    // Finish stream 0 from the client, below the public API.
    const raw = (
      c as unknown as { q: { streamSend(id: number, d: Uint8Array, fin: boolean): number | null } }
    ).q;
    raw.streamSend(0, new Uint8Array(0), true);
    c.write(Buffer.from('z')); // any write schedules a flush
    const s = await guard(si, 5000, 'server close');
    assert.equal(s.reason, 'stream_finished');
    assert.equal(s.byPeer, true);
    const cl = await guard(ci, 5000, 'client close');
    assert.equal(cl.code, 0);
    assert.equal(cl.byPeer, true);
  });

  test('stateless retry: handshake and echo through a retry token', async () => {
    const h = await start({ retry: true });
    const c = await h.client();
    const echoed = collect(c, 3);
    c.write(Buffer.from('abc'));
    assert.equal((await guard(echoed, 5000, 'echo')).toString(), 'abc');
    assert.equal(h.server.connectionCount, 1);
  });

  test('maxConnections refuses further handshakes', async () => {
    const h = await start({ maxConnections: 1 });
    await h.echoed();
    await assert.rejects(guard(h.client(), 10_000, 'refusal'), /handshake failed/);
  });

  test('garbage datagrams are ignored; version negotiation is answered', async () => {
    const h = await start();
    const { c } = await h.echoed();

    const sock = dgram.createSocket('udp4');
    await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
    const replies: Buffer[] = [];
    sock.on('message', (m) => replies.push(m));
    const send = (b: Uint8Array) => new Promise<void>((r) => sock.send(b, h.port, '127.0.0.1', () => r()));
    const garbage: Buffer[] = [Buffer.alloc(0), Buffer.from([0x80]), Buffer.from([0xc0, 0, 0, 0, 1, 20])];
    for (let i = 0; i < 200; i++) garbage.push(randomBytes(1 + ((i * 37) % 1400)));
    for (let i = 0; i < 50; i++) {
      const b = randomBytes(1200);
      b[0] = 0xc0; // long header, Initial, version 1, random lengths
      b.writeUInt32BE(1, 1);
      garbage.push(b);
      const s = randomBytes(60);
      s[0] = 0x40; // short header with an unknown dcid
      garbage.push(s);
    }
    // A short header carrying a real connection id but garbage payload.
    for (const g of garbage) await send(g);
    // An Initial in an unsupported version gets a version negotiation packet.
    const vn = Buffer.alloc(1200);
    vn[0] = 0xc0;
    vn.writeUInt32BE(0x1a2a3a4a, 1);
    vn[5] = 8;
    randomBytes(8).copy(vn, 6);
    vn[14] = 8;
    randomBytes(8).copy(vn, 15);
    await send(vn);
    await until(
      () => replies.some((r) => r.length > 5 && (r[0]! & 0x80) !== 0 && r.readUInt32BE(1) === 0),
      5000,
      'version negotiation',
      20,
    );
    sock.close();

    const again = collect(c, 5);
    c.write(Buffer.from('still'));
    assert.equal((await guard(again, 5000, 'echo after garbage')).toString(), 'still');
    const d = await h.client();
    const fresh = collect(d, 3);
    d.write(Buffer.from('new'));
    assert.equal((await guard(fresh, 5000, 'new connection')).toString(), 'new');
  });

  test('a second client stream is reset while stream 0 keeps working', async () => {
    const h = await start();
    const { q, pump, close } = await rawClient(h.port, cert.certPem);
    try {
      q.streamSend(0, Buffer.from('zero'), false);
      q.streamSend(4, Buffer.from('four'), false);
      pump();
      let resetCode: number | null = null;
      let echo = '';
      const buf = Buffer.alloc(4096);
      await guard(
        (async () => {
          while (resetCode === null || echo !== 'zero') {
            await new Promise((r) => setTimeout(r, 10));
            pump();
            try {
              const r = q.streamRecv(0, buf);
              if (r) echo += buf.subarray(0, r[0]).toString();
            } catch {
              // not yet readable
            }
            try {
              q.streamRecv(4, buf);
            } catch (e) {
              const m = /StreamReset\((\d+)\)/.exec((e as Error).message);
              if (m) resetCode = Number(m[1]);
            }
          }
        })(),
        10_000,
        'reset and echo',
      );
      assert.equal(resetCode, 1);
      assert.equal(echo, 'zero');
      assert.equal(h.conns.length, 1);
      // stream 0 still works after the refusal
      q.streamSend(0, Buffer.from('more'), false);
      pump();
      echo = '';
      await guard(
        (async () => {
          while (echo !== 'more') {
            await new Promise((r) => setTimeout(r, 10));
            pump();
            const r = q.streamRecv(0, buf);
            if (r) echo += buf.subarray(0, r[0]).toString();
          }
        })(),
        5000,
        'echo after reset',
      );
    } finally {
      close();
    }
  });
});

/** A bare quiche client, to open streams the public API never opens. */
async function rawClient(port: number, caPem: string) {
  const sock = dgram.createSocket('udp4');
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
  sock.connect(port, '127.0.0.1');
  await new Promise<void>((r) => sock.once('connect', () => r()));
  const local = { host: '127.0.0.1', port: sock.address().port };
  const remote = { host: '127.0.0.1', port };
  const cfg = quiche.Config.withBoringSslCtx(true, false, new TextEncoder().encode(caPem), null, null, null);
  cfg.setApplicationProtos(['gatesvr/1']);
  cfg.setInitialMaxData(1 << 20);
  cfg.setInitialMaxStreamDataBidiLocal(1 << 20);
  cfg.setInitialMaxStreamDataBidiRemote(1 << 20);
  cfg.setMaxIdleTimeout(10_000);
  const q = quiche.Connection.connect('localhost', randomBytes(CID_LEN), local, remote, cfg);
  const out = Buffer.alloc(1500);
  const pump = () => {
    for (let r = q.send(out); r !== null; r = q.send(out)) sock.send(Buffer.from(out.subarray(0, r[0])));
  };
  sock.on('message', (m) => {
    try {
      q.recv(m, { from: remote, to: local });
    } catch {
      // ignore
    }
    pump();
  });
  pump();
  await until(() => q.isEstablished(), 5000, 'raw handshake');
  return {
    q,
    pump,
    close: () => {
      q.close(true, 0, new Uint8Array(0));
      pump();
      sock.close();
    },
  };
}

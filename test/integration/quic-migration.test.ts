import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { test } from 'node:test';
import {
  connectQuic,
  createQuicServer,
  type HostPort,
  type StreamConnection,
} from '../../src/transport/quic/index.js';
import { makeTestCert } from '../helpers/certs.js';
import { guard, until } from '../helpers/quic.js';

test('rebind() mid-transfer migrates the connection without losing data', async () => {
  const cert = await makeTestCert();
  const server = createQuicServer({ host: '127.0.0.1', port: 0, tls: cert });
  const serverConns: StreamConnection[] = [];
  const migrations: Array<[HostPort, HostPort]> = [];
  server.onConnection = (c) => {
    serverConns.push(c);
    c.onData = (d) => void c.write(d);
    c.onMigrate = (from, to) => migrations.push([from, to]);
  };
  const { port } = await server.listen();
  try {
    const c = await connectQuic({ host: '127.0.0.1', port, caPem: cert.certPem });
    const payload = randomBytes(2 * 1024 * 1024);
    const parts: Buffer[] = [];
    let got = 0;
    const back = new Promise<Buffer>((resolve) => {
      c.onData = (d) => {
        parts.push(Buffer.from(d));
        got += d.length;
        if (got === payload.length) resolve(Buffer.concat(parts));
      };
    });
    const chunk = 16 * 1024;
    let rebound = false;
    for (let off = 0; off < payload.length; off += chunk) {
      if (!rebound && off >= payload.length / 2) {
        // Wait until some echo has come back so the transfer is really in flight.
        await until(() => got !== 0, 10_000, 'first echo', 5);
        const before = serverConns[0]!.remote;
        await c.rebind();
        rebound = true;
        assert.ok(before.port > 0);
      }
      if (!c.write(payload.subarray(off, off + chunk))) {
        await guard(
          new Promise<void>((r) => {
            c.onDrain = r;
          }),
          10_000,
          'drain',
        );
      }
      if (off % (256 * 1024) === 0) await new Promise((r) => setImmediate(r));
    }
    const echoed = await guard(back, 20_000, 'full echo');
    assert.equal(
      createHash('sha256').update(echoed).digest('hex'),
      createHash('sha256').update(payload).digest('hex'),
    );
    assert.equal(serverConns.length, 1, 'no new connection on the server');
    assert.equal(server.connectionCount, 1);
    await until(() => migrations.length !== 0, 5000, 'onMigrate');
    const [from, to] = migrations[0]!;
    assert.notEqual(from.port, to.port);
    assert.equal(serverConns[0]!.remote.port, to.port);
    // Still usable after the move.
    const more = new Promise<string>((resolve) => {
      c.onData = (d) => resolve(Buffer.from(d).toString());
    });
    c.write(Buffer.from('after'));
    assert.equal(await guard(more, 5000, 'echo after migration'), 'after');
    // And a second move works too (spare connection ids are replenished).
    await c.rebind();
    const more2 = new Promise<string>((resolve) => {
      c.onData = (d) => resolve(Buffer.from(d).toString());
    });
    c.write(Buffer.from('again'));
    assert.equal(await guard(more2, 5000, 'echo after second migration'), 'again');
    c.close(0);
  } finally {
    await server.close();
  }
});

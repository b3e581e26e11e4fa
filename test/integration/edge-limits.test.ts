/**
 * The QUIC edge under connection exhaustion and frame floods (docs/security-edge.md),
 * over real QUIC: half-open handshake floods, idle connections that never START,
 * a HEARTBEAT flood from a logged-in client, and stateless retry above a rate.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { GateClient } from '../../src/client/gate-client.js';
import { PushClient } from '../../src/client/push-client.js';
import type { Gateway } from '../../src/gateway.js';
import { CloseCode, ErrorCode, PushType, RequestType } from '../../src/protocol/codes.js';
import { encodeFrame } from '../../src/protocol/framing.js';
import { ClientRequest, ErrorMessage, HeartbeatRequest, StartResponse } from '../../src/protocol/messages.js';
import { connectQuic, createQuicServer } from '../../src/transport/quic/index.js';
import { makeTestCert } from '../helpers/certs.js';
import { type ConfigPatch, connectClient, login, startTestGateway, waitFor } from '../helpers/gateway.js';
import { InitialFlood } from '../helpers/initials.js';
import { guard } from '../helpers/quic.js';
import { RawClient } from '../helpers/raw-client.js';

const gateways: Gateway[] = [];
const cleanups: Array<() => void> = [];
after(async () => {
  for (const c of cleanups) c();
  for (const gw of gateways) await gw.close().catch(() => {});
});

async function gateway(patch: ConfigPatch): Promise<Gateway> {
  const gw = await startTestGateway(patch);
  gateways.push(gw);
  return gw;
}

/** A raw client that STARTs and logs in; resolves once both were answered. */
async function startedRaw(gw: Gateway, openid: string, localHost?: string): Promise<RawClient> {
  const r = await RawClient.connect(gw, { localHost });
  cleanups.push(() => r.close());
  r.start(openid);
  const resp = await r.next();
  assert.equal(resp.type, PushType.START_RESP);
  assert.equal(StartResponse.decode(resp.payload).success, true);
  r.business(1, 'hello', { zone: '1' });
  assert.equal((await r.next()).type, PushType.BUSINESS_DATA);
  return r;
}

describe('QUIC edge limits', () => {
  it('500 half-open handshakes from one address hold at most max_handshakes_per_ip; another address connects; they are reaped', async () => {
    const gw = await gateway({
      overloadProtection: { maxHandshakesPerIp: 32, handshakeTimeoutMs: 1500 },
    });
    const flood = await InitialFlood.open(gw.addresses.quic, '127.0.0.1');
    cleanups.push(() => flood.close());
    await flood.send(500);
    // A client from another address is not affected by the flood of 127.0.0.1. The
    // server's socket read the whole flood before this client's first datagram.
    const other = await startedRaw(gw, 'edge-other', '127.0.0.2');
    assert.equal(other.closeInfo, null);
    assert.ok(gw.quic.connectionCount <= 33, `${gw.quic.connectionCount} connection states`);
    const s = gw.quic.edgeStats();
    assert.ok(s.handshaking <= 32, `${s.handshaking} half-open`);
    // Every Initial was either given state or dropped at the per-address bound.
    assert.ok(s.refused.ip_handshakes! + s.refused.handshake_timeout! >= 500 - 32, JSON.stringify(s));
    // Unfinished handshakes are dropped after handshake_timeout, freeing the address.
    await waitFor(() => gw.quic.edgeStats().handshaking === 0, 20_000, 'half-open handshakes reaped');
    assert.ok(gw.quic.edgeStats().refused.handshake_timeout! >= 1);
    const same = await startedRaw(gw, 'edge-same', '127.0.0.1');
    assert.equal(same.closeInfo, null);
    const metrics = await gw.metrics.text();
    assert.match(metrics, /gatesvr_edge_refusals_total\{reason="ip_handshakes"[^}]*\} [1-9]/);
    assert.match(metrics, /gatesvr_edge_refusals_total\{reason="handshake_timeout"[^}]*\} [1-9]/);
  });

  it('max_connections_per_ip: a further connection from that address gets no state until one closes; another address is served', async () => {
    const gw = await gateway({ overloadProtection: { maxConnectionsPerIp: 3 } });
    const three = [await startedRaw(gw, 'ip-1'), await startedRaw(gw, 'ip-2'), await startedRaw(gw, 'ip-3')];
    const fourth = RawClient.connect(gw);
    await waitFor(
      () => gw.quic.connectionCount > 3 || gw.quic.edgeStats().refused.ip_connections! >= 1,
      10_000,
      'the fourth handled',
    );
    assert.equal(gw.quic.connectionCount, 3);
    const other = await startedRaw(gw, 'ip-other', '127.0.0.2');
    assert.equal(other.closeInfo, null);
    // A slot freed: the fourth's retransmitted Initial gets through.
    three[0]!.close();
    const r = await fourth;
    cleanups.push(() => r.close());
    r.start('ip-4');
    assert.equal((await r.next()).type, PushType.START_RESP);
  });

  it('idle connections that never START cannot fill max_connections: a real client still connects and STARTs', async () => {
    // start_timeout far away: only the reserved share and displacement are at work here.
    const gw = await gateway({
      server: { startTimeoutMs: 600_000 },
      overloadProtection: { maxConnections: 10, reservedStartedPercent: 10, startTimeoutFloorMs: 600_000 },
    });
    const started = await startedRaw(gw, 'share-started');
    const idle: RawClient[] = [];
    for (let i = 0; i < 12; i++) {
      const r = await RawClient.connect(gw);
      cleanups.push(() => r.close());
      idle.push(r);
    }
    await waitFor(() => idle.filter((r) => r.closeInfo !== null).length === 3, 10_000, 'three closed');
    // max_connections is reached, yet a real client is served: the oldest idle one goes.
    const fresh = await startedRaw(gw, 'share-fresh');
    // 9 = max_connections 10 less the reserved 10 %; the 3 oldest made room for newer ones.
    assert.equal(gw.listener.refused.pre_start_displaced, 4);
    for (const r of idle.slice(0, 3)) assert.equal((await r.closed()).code, CloseCode.OVERLOADED);
    assert.equal(fresh.closeInfo, null);
    assert.equal((await idle[3]!.closed()).code, CloseCode.OVERLOADED);
    assert.equal(gw.listener.connectionCount, 10);
    assert.equal(gw.listener.preStartCount, 8);
    // The started session kept its slot and is served.
    started.heartbeat(50, 1);
    assert.equal((await started.next()).type, PushType.HEARTBEAT_RESP);
    assert.equal(started.closeInfo, null);
  });

  it('a HEARTBEAT flood from a logged-in client gets ERROR 429 and close 0x03; another session is served', async () => {
    const gw = await gateway({});
    const calm: GateClient = await connectClient(gw, 'flood-calm');
    cleanups.push(() => calm.close());
    await login(calm);
    const loud = await startedRaw(gw, 'flood-loud');
    const one = encodeFrame(
      ClientRequest.encode({
        msgId: 7,
        seqId: 0,
        type: RequestType.HEARTBEAT,
        payload: HeartbeatRequest.encode({ clientTimestamp: 1 }),
        headers: {},
        openid: '',
      }),
    );
    const batch = Buffer.concat(Array.from({ length: 1000 }, () => one));
    for (let i = 0; i < 200 && loud.closeInfo === null; i++) loud.writeRaw(batch); // 200k heartbeats
    const info = await loud.closed(30_000);
    assert.equal(info.code, CloseCode.OVERLOADED);
    const err = loud.pushes.find((p) => p.type === PushType.ERROR);
    assert.ok(err, 'ERROR before the close');
    assert.equal(ErrorMessage.decode(err.payload).errorCode, ErrorCode.OVERLOADED);
    assert.ok(gw.listener.refused.frame_rate >= 1);
    // The other session is answered and receives a push.
    assert.equal((await calm.request('echo', {}, Buffer.from('still here'))).code, 0);
    const producer = new PushClient(`127.0.0.1:${gw.addresses.grpc.port}`, 10_000);
    cleanups.push(() => producer.close());
    const r = await producer.push({
      targetType: 'openid',
      targetId: 'flood-calm',
      content: 'after the flood',
    });
    assert.equal(r.success, true, r.message);
    assert.equal((await calm.nextNotify()).content, 'after the flood');
  });
});

describe('stateless retry above a rate of new connections', () => {
  it('beyond retry_above_rate new connections a second, Initials get a Retry and no state; a real client passes it', async () => {
    const cert = await makeTestCert();
    const server = createQuicServer({ host: '127.0.0.1', port: 0, tls: cert, retryAboveRate: 10 });
    server.onConnection = (c) => {
      c.onData = (d) => void c.write(d);
    };
    const { port } = await server.listen();
    const flood = await InitialFlood.open({ host: '127.0.0.1', port });
    try {
      await flood.send(60);
      await waitFor(() => flood.retries >= 40, 10_000, 'Retry packets on the wire');
      // Only the connections below the rate hold state; the rest were answered statelessly.
      assert.ok(server.connectionCount <= 11, `${server.connectionCount} states`);
      assert.ok(server.edgeStats().retriesSent >= 40);
      const c = await connectQuic({ host: '127.0.0.1', port, caPem: cert.certPem, serverName: 'localhost' });
      const echoed = new Promise<string>((resolve) => {
        c.onData = (d) => resolve(Buffer.from(d).toString());
      });
      c.write(Buffer.from('hi'));
      assert.equal(await guard(echoed, 10_000, 'echo'), 'hi');
      c.close(0);
    } finally {
      flood.close();
      await server.close();
    }
  });
});

/**
 * One receiving client of each compared system, behind one interface: the
 * GateSvr SDK (QUIC, ACKs as the SDK does), socket.io-client over WebSocket
 * (acknowledging acked emits; connection-state recovery on reconnect) and
 * mqtt.js (QoS 1 subscriber; persistent session when asked).
 */
import mqtt from 'mqtt';
import { io, type Socket } from 'socket.io-client';
import { GateClient } from '../../../src/client/gate-client.js';

export type SystemName = 'gatesvr' | 'socket.io' | 'mqtt';

/** Where the clients connect: GateSvr QUIC port + CA, or a ws:// / mqtt:// URL. */
export interface PeerConn {
  port: number;
  caPem?: string;
}

export interface PeerClient {
  /** Lose the connection without ending the session (no STOP / no disconnect packet). */
  drop(): Promise<void>;
  /** Reconnect; true when the system resumed the session or recovered its state. */
  reconnect(): Promise<boolean>;
  /** End the session for good. */
  close(): Promise<void>;
}

/** MQTT topics: one per client for unicast, one shared for fan-out. */
export const mqttTopic = (id: string) => `peers/u/${id}`;
export const MQTT_ALL = 'peers/all';

const within = <T>(p: Promise<T>, ms: number, what: string): Promise<T> =>
  Promise.race([
    p,
    new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`${what}: no answer in ${ms} ms`)), ms)),
  ]);

async function gatesvr(conn: PeerConn, id: string, onMessage: (p: Uint8Array) => void): Promise<PeerClient> {
  const c = await GateClient.connect({
    host: '127.0.0.1',
    port: conn.port,
    openid: id,
    caPem: conn.caPem,
    serverName: 'localhost',
    heartbeat: false,
    idleTimeoutMs: 120_000,
    // Thousands of handshakes on two shared cores: the default 10 s is too short for the last ones.
    connectTimeoutMs: 60_000,
  });
  c.onDelivered((d) => {
    if (d.kind !== 'notify') return;
    onMessage(d.notify.data);
    void c.nextNotify(); // the SDK also buffers notifies for nextNotify(): take it so nothing piles up
  });
  // Broadcasts reach logged-in (NORMAL) sessions only: log in through the demo hello upstream.
  const a = await c.request('hello', { zone: '1' });
  if (a.code !== 0) throw new Error(`login failed: ${a.code} ${a.message}`);
  return {
    async drop() {
      c.close();
    },
    async reconnect() {
      await c.resume();
      return c.resumed;
    },
    async close() {
      await within(c.stop(), 60_000, 'STOP').catch(() => c.close());
    },
  };
}

async function socketio(
  conn: PeerConn,
  id: string,
  persistent: boolean,
  onMessage: (p: Uint8Array) => void,
): Promise<PeerClient> {
  const s: Socket = io(`ws://127.0.0.1:${conn.port}`, {
    transports: ['websocket'],
    reconnection: false,
    forceNew: true,
    auth: { id, primer: persistent },
  });
  const primed = new Promise<void>((resolve) => s.once('p', () => resolve()));
  // An acked emit passes the ack callback last; a broadcast kept for recovery passes its offset (a string).
  s.on('m', (payload: Uint8Array, ack?: unknown) => {
    onMessage(payload);
    if (typeof ack === 'function') ack();
  });
  const connected = () =>
    new Promise<void>((resolve, reject) => {
      s.once('connect', () => resolve());
      s.once('connect_error', reject);
    });
  await within(connected(), 30_000, 'socket.io connect');
  if (persistent) await within(primed, 30_000, 'socket.io primer');
  return {
    async drop() {
      const gone = new Promise<void>((r) => s.once('disconnect', () => r()));
      // Closing the transport is a recoverable disconnect ("transport close") for the server.
      s.io.engine.close();
      await gone;
    },
    async reconnect() {
      const c = connected();
      s.connect();
      await within(c, 30_000, 'socket.io reconnect');
      return s.recovered;
    },
    async close() {
      s.disconnect();
    },
  };
}

async function mqttClient(
  conn: PeerConn,
  id: string,
  persistent: boolean,
  onMessage: (p: Uint8Array) => void,
): Promise<PeerClient> {
  const open = async () => {
    const c = mqtt.connect(`mqtt://127.0.0.1:${conn.port}`, {
      clientId: id,
      clean: !persistent,
      reconnectPeriod: 0,
      keepalive: 600,
      connectTimeout: 30_000,
    });
    // Attached before CONNACK: a persistent session's queued messages follow it at once.
    c.on('message', (_topic, payload) => onMessage(payload));
    const connack = await within(
      new Promise<mqtt.IConnackPacket>((resolve, reject) => {
        c.once('connect', resolve);
        c.once('error', reject);
      }),
      30_000,
      'mqtt connect',
    );
    return { c, sessionPresent: connack.sessionPresent };
  };
  let cur = await open();
  await cur.c.subscribeAsync([mqttTopic(id), MQTT_ALL], { qos: 1 });
  return {
    async drop() {
      await cur.c.endAsync(true); // no DISCONNECT: the broker keeps a persistent session
    },
    async reconnect() {
      cur = await open();
      return cur.sessionPresent;
    },
    async close() {
      await cur.c.endAsync();
    },
  };
}

export function connectPeer(
  system: SystemName,
  conn: PeerConn,
  id: string,
  persistent: boolean,
  onMessage: (p: Uint8Array) => void,
): Promise<PeerClient> {
  switch (system) {
    case 'gatesvr':
      return gatesvr(conn, id, onMessage);
    case 'socket.io':
      return socketio(conn, id, persistent, onMessage);
    case 'mqtt':
      return mqttClient(conn, id, persistent, onMessage);
  }
}

/**
 * Peers benchmark child: the producer for GateSvr (the gRPC push API, as an
 * upstream service would use it) and for MQTT (an mqtt.js QoS 1 publisher).
 * A send is confirmed by the PushToClient / BroadcastToClients response (the
 * gateway accepted it into the session queues) or by the broker's PUBACK.
 *
 *   init { system, target }            -> {}      target: gRPC host:port or the broker's port
 *   unicast { target, n, window }      -> { seconds }
 *   broadcast { n, window, expect }    -> { seconds }  every broadcast must reach `expect` sessions (GateSvr)
 *   queue { target, n }                -> {}      as unicast, 20 in flight, confirmed before replying
 */
import mqtt from 'mqtt';
import { PushClient } from '../../../src/client/push-client.js';
import { serveChild } from '../child.js';
import { MQTT_ALL, mqttTopic, type SystemName } from './clients.js';
import { sendWindowed, stamp } from './payload.js';

interface Producer {
  unicast(target: string, seq: number): Promise<void>;
  broadcast(seq: number, expect: number): Promise<void>;
  close(): Promise<void>;
}

function gatesvrProducer(target: string): Producer {
  const p = new PushClient(target, 60_000);
  return {
    async unicast(openid, seq) {
      const r = await p.push({ targetType: 'openid', targetId: openid, msgType: 'peers', data: stamp(seq) });
      if (!r.success) throw new Error(`push ${seq} refused: ${r.errorCode} ${r.message}`);
    },
    async broadcast(seq, expect) {
      const r = await p.broadcast({ msgType: 'peers', data: stamp(seq), zone: 0 });
      if (r.deliveredCount !== expect)
        throw new Error(`broadcast ${seq} reached ${r.deliveredCount} of ${expect}`);
    },
    async close() {
      p.close();
    },
  };
}

async function mqttProducer(port: string): Promise<Producer> {
  const c = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, {
    clientId: `peers-producer-${process.pid}`,
    reconnectPeriod: 0,
    keepalive: 600,
  });
  return {
    async unicast(id, seq) {
      await c.publishAsync(mqttTopic(id), stamp(seq), { qos: 1 });
    },
    async broadcast(seq) {
      await c.publishAsync(MQTT_ALL, stamp(seq), { qos: 1 });
    },
    async close() {
      await c.endAsync();
    },
  };
}

let producer: Producer | null = null;

serveChild(
  async (body) => {
    switch (body.type) {
      case 'init': {
        const target = body['target'] as string;
        producer =
          (body['system'] as SystemName) === 'mqtt' ? await mqttProducer(target) : gatesvrProducer(target);
        return {};
      }
      case 'unicast':
      case 'queue': {
        const p = producer!;
        const target = body['target'] as string;
        const window = (body['window'] as number | undefined) ?? 20;
        return sendWindowed(body['n'] as number, window, (seq) => p.unicast(target, seq));
      }
      case 'broadcast': {
        const p = producer!;
        const expect = body['expect'] as number;
        return sendWindowed(body['n'] as number, body['window'] as number, (seq) => p.broadcast(seq, expect));
      }
      default:
        throw new Error(`unknown request ${body.type}`);
    }
  },
  async () => {
    await producer?.close();
  },
);

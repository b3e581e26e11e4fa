/**
 * Live fuzz: seeded random and mutated frames thrown at a real gateway over many
 * QUIC connections (bounded budget). No crash, no unhandled rejection, another
 * session served throughout, and every connection and session released after.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { GateClient } from '../../src/client/gate-client.js';
import type { Gateway } from '../../src/gateway.js';
import { Gen, prng } from '../helpers/fuzz.js';
import { connectClient, login, startTestGateway, waitFor } from '../helpers/gateway.js';
import { RawClient } from '../helpers/raw-client.js';

const CONNECTIONS = 200;
const CHUNKS_PER_CONNECTION = 10; // 2,000 hostile chunks in all
const PARALLEL = 20;
const MAX_FRAME = 4096;

const problems: string[] = [];
const onUnhandled = (err: unknown) => problems.push(`unhandledRejection: ${String(err)}`);
const onUncaught = (err: unknown) => problems.push(`uncaughtException: ${String(err)}`);

let gw: Gateway;
let good: GateClient;

before(async () => {
  process.on('unhandledRejection', onUnhandled);
  process.on('uncaughtException', onUncaught);
  gw = await startTestGateway({
    server: { maxFrameBytes: MAX_FRAME, startTimeoutMs: 1000, resumeWindowMs: 300 },
    overloadProtection: { maxConnections: 10_000, maxSessionQps: 100_000, maxQps: 1_000_000 },
  });
  good = await connectClient(gw, 'fuzz-good-session', { maxFrameBytes: MAX_FRAME });
  await login(good);
});

after(async () => {
  good?.close();
  await gw?.close();
  process.off('unhandledRejection', onUnhandled);
  process.off('uncaughtException', onUncaught);
});

describe('live gateway fuzz', () => {
  it(`${CONNECTIONS} connections x ${CHUNKS_PER_CONNECTION} hostile chunks: gateway unharmed`, async () => {
    const gc = (globalThis as { gc?: () => void }).gc;
    gc?.();
    const heapBefore = process.memoryUsage().heapUsed;

    // The good session works all along.
    let goodOk = 0;
    const goodErrors: string[] = [];
    let fuzzing = true;
    const goodLoop = (async () => {
      while (fuzzing) {
        try {
          const a = await good.request('echo', {}, Buffer.from(`ping ${goodOk}`));
          if (a.code === 0) goodOk++;
          else goodErrors.push(`code ${a.code}`);
        } catch (err) {
          goodErrors.push(String(err));
        }
        await new Promise((r) => setTimeout(r, 5));
      }
    })();

    const g = new Gen(prng(0xf0221));
    let next = 0;
    let closedByGateway = 0;
    const worker = async () => {
      while (next < CONNECTIONS) {
        const id = next++;
        const seed = g.int(2 ** 31);
        const cg = new Gen(prng(seed));
        let c: RawClient;
        try {
          c = await RawClient.connect(gw);
        } catch (err) {
          problems.push(`connect ${id}: ${String(err)}`);
          continue;
        }
        if (cg.int(2) === 0) c.start(`fuzz-${id}`);
        for (let i = 0; i < CHUNKS_PER_CONNECTION && !c.conn.closed; i++) {
          c.conn.write(cg.streamBytes(MAX_FRAME));
          if (cg.int(3) === 0) await new Promise((r) => setImmediate(r));
        }
        const done = await Promise.race([
          c.closed().then(() => true),
          new Promise((r) => setTimeout(() => r(false), 200)),
        ]);
        if (done) closedByGateway++;
        else c.conn.close(0, 'fuzz client done');
        await c.closed();
      }
    };
    await Promise.all(Array.from({ length: PARALLEL }, worker));
    fuzzing = false;
    await goodLoop;

    assert.deepEqual(problems, []);
    assert.deepEqual(goodErrors, []);
    assert.ok(goodOk > 0);
    assert.ok(closedByGateway > CONNECTIONS / 4, `gateway closed ${closedByGateway} hostile connections`);

    // Everything the fuzz made is released: connections now, sessions once resume_window passed.
    await waitFor(() => gw.listener.connectionCount === 1, 20_000, 'listener back to 1 connection');
    await waitFor(() => gw.quic.connectionCount === 1, 20_000, 'QUIC back to 1 connection');
    await waitFor(() => gw.system.size === 1, 20_000, `sessions back to 1 (now ${gw.system.size})`);
    assert.equal(gw.overload!.stats().connections, 1);
    assert.equal((await good.request('echo')).code, 0);

    if (gc) {
      gc();
      const growth = process.memoryUsage().heapUsed - heapBefore;
      assert.ok(growth < 64 * 1024 * 1024, `heap grew by ${growth} bytes`);
    }
  });
});

/**
 * A short seeded nemesis run (test/nemesis/runner.ts): a 3-node NATS cluster with
 * replicas 3, a primary and a backup gateway process, SDK clients with autoResume,
 * gRPC producers retrying with a push_id; faults: kill -9 and SIGSTOP of the
 * serving gateway, kill of a NATS node, client connection cuts. No accepted push
 * may be lost, none delivered twice, no seq given to two pushes.
 * `npm run nemesis -- --rounds N --seed S` runs longer ones.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runNemesis } from '../nemesis/runner.js';

const SEED = Number(process.env.NEMESIS_SEED ?? 7);

describe('nemesis: faults under push load', { timeout: 90_000 }, () => {
  it(`seed ${SEED}: nothing lost, nothing duplicated, no seq reused`, async () => {
    const lines: string[] = [];
    const r = await runNemesis({
      rounds: 4,
      seed: SEED,
      sessions: 3,
      producersPerSession: 2,
      faults: ['kill-gateway', 'pause-gateway', 'kill-nats', 'cut-clients'],
      quietMs: [800, 1_500],
      roundsBudgetMs: 25_000,
      recoverTimeoutMs: 8_000,
      finishTimeoutMs: 5_000,
      drainTimeoutMs: 10_000,
      log: (l) => lines.push(l),
    });
    console.log(`# nemesis ${JSON.stringify(r.summary)}`);
    const why = [...r.report, ...(r.report.length ? [] : lines.slice(-20))].join('\n');
    assert.ok(r.summary.accepted > 0, `no push accepted at all\n${lines.join('\n')}`);
    assert.equal(r.summary.lost, 0, `lost pushes\n${why}`);
    assert.equal(r.summary.duplicated, 0, `duplicated pushes\n${why}`);
    assert.equal(r.summary.reused_seqs, 0, `seqs given twice\n${why}`);
    assert.equal(r.summary.order_violations, 0, `producer order broken\n${why}`);
  });
});

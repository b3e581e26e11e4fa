/**
 * `npm run nemesis -- --rounds N --seed S [--sessions K] [--producers P]
 *  [--faults kill-gateway,pause-gateway,kill-nats,cut-clients] [--interval MS]`
 *
 * Progress lines on stderr; exactly one JSON line on stdout with the summary.
 * Exits 1 when a push was lost, duplicated, reordered, refused-yet-delivered, or
 * a seq was given to two pushes; 2 when the run itself failed.
 */
import { parseArgs } from 'node:util';
import { FAULT_KINDS, type FaultKind, runNemesis } from './runner.js';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '10' },
    seed: { type: 'string', default: String(Date.now() % 1_000_000) },
    sessions: { type: 'string', default: '3' },
    producers: { type: 'string', default: '2' },
    interval: { type: 'string', default: '50' },
    faults: { type: 'string', default: FAULT_KINDS.join(',') },
    artifacts: { type: 'string' },
    help: { type: 'boolean', default: false },
  },
});

if (values.help) {
  process.stdout.write(
    'usage: npm run nemesis -- --rounds N --seed S [--sessions K] [--producers P] [--interval MS] [--faults a,b] [--artifacts DIR]\n' +
      `faults: ${FAULT_KINDS.join(', ')}\n`,
  );
  process.exit(0);
}

const faults = values.faults.split(',').filter(Boolean) as FaultKind[];
for (const f of faults) {
  if (!FAULT_KINDS.includes(f)) {
    process.stderr.write(`unknown fault ${f}; known: ${FAULT_KINDS.join(', ')}\n`);
    process.exit(2);
  }
}

// SIGINT/SIGTERM: the helpers' exit hook kills every child and removes the temporary directories.

try {
  const r = await runNemesis({
    rounds: Number(values.rounds),
    seed: Number(values.seed),
    sessions: Number(values.sessions),
    producersPerSession: Number(values.producers),
    pushIntervalMs: Number(values.interval),
    faults,
    artifactsDir: values.artifacts,
  });
  for (const line of r.report) process.stderr.write(`${line}\n`);
  process.stderr.write(`[nemesis] ${r.ok ? 'OK' : 'FAILED'}\n`);
  const s = r.summary;
  process.stdout.write(
    `${JSON.stringify({
      rounds: s.rounds,
      faults: s.faults,
      accepted: s.accepted,
      delivered: s.delivered,
      lost: s.lost,
      duplicated: s.duplicated,
      reused_seqs: s.reused_seqs,
      unavailable_ms_p50: s.unavailable_ms_p50,
      unavailable_ms_max: s.unavailable_ms_max,
      order_violations: s.order_violations,
      phantoms: s.phantoms,
      seq_gaps: s.seq_gaps,
      unknown: s.unknown,
      sessions_replaced: s.sessions_replaced,
      attempts: s.attempts,
      attempts_unknown: s.attempts_unknown,
      connection_losses: s.connection_losses,
      seed: s.seed,
    })}\n`,
  );
  process.exit(r.ok ? 0 : 1);
} catch (err) {
  process.stderr.write(`[nemesis] run failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(2);
}

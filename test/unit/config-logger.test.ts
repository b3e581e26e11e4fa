import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, describe, it } from 'node:test';
import { loadConfig } from '../../src/config/load.js';
import { closeLogger, createLogger } from '../../src/config/logger.js';
import { defaultConfig } from '../../src/config/schema.js';

const tmp = mkdtempSync(join(tmpdir(), 'gatesvr-log-test-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

function capture(): { lines: () => Record<string, unknown>[]; stream: Writable } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      chunks.push(String(chunk));
      cb();
    },
  });
  return {
    stream,
    lines: () =>
      chunks
        .join('')
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

describe('createLogger', () => {
  it('writes JSON lines with a level label and redacts secrets', () => {
    const out = capture();
    const log = createLogger(defaultConfig().log, { env: {}, destination: out.stream });
    log.info(
      {
        auth_token: 'A',
        authToken: 'B',
        token: 'C',
        jwt_secret: 'D',
        req: { authorization: 'Bearer E', token: 'F' },
        headers: { authorization: 'Bearer G' },
        openid: 'user-1',
      },
      'hello',
    );
    const [line] = out.lines();
    assert.ok(line);
    assert.equal(line['level'], 'info');
    assert.equal(line['msg'], 'hello');
    assert.equal(line['openid'], 'user-1');
    assert.equal(typeof line['time'], 'string');
    const text = JSON.stringify(line);
    for (const secret of ['"A"', '"B"', '"C"', '"D"', 'Bearer E', '"F"', 'Bearer G']) {
      assert.ok(!text.includes(secret), `${secret} leaked: ${text}`);
    }
    assert.equal(line['token'], '[REDACTED]');
  });

  it('GATESVR_LOG_LEVEL applies to a hand-made LogConfig; silent is allowed', () => {
    const out = capture();
    const log = createLogger(defaultConfig().log, {
      env: { GATESVR_LOG_LEVEL: 'silent' },
      destination: out.stream,
    });
    log.error('nope');
    assert.equal(out.lines().length, 0);
    assert.equal(log.level, 'silent');
    const dbg = createLogger(defaultConfig().log, {
      env: { GATESVR_LOG_LEVEL: 'debug' },
      destination: capture().stream,
    });
    assert.equal(dbg.level, 'debug');
  });

  it('a loaded config keeps flag precedence over GATESVR_LOG_LEVEL', () => {
    const env = { GATESVR_LOG_LEVEL: 'silent' };
    const cfg = loadConfig({ argv: ['--log-level', 'warn'], env });
    const log = createLogger(cfg.log, { env, destination: capture().stream });
    assert.equal(log.level, 'warn');
  });

  it('rotates files as gatesvr.log, gatesvr.log.1 .. .N', async () => {
    const file = join(tmp, 'gatesvr.log');
    const log = createLogger({ level: 'info', file, maxSizeMb: 1, maxFiles: 2 }, { env: {} });
    const big = 'x'.repeat(4000);
    for (let i = 0; i < 800; i++) log.info({ i, big }, 'line');
    await closeLogger(log);
    const names = readdirSync(tmp).sort();
    assert.deepEqual(names, ['gatesvr.log', 'gatesvr.log.1', 'gatesvr.log.2']);
    for (const n of names) assert.ok(readFileSync(join(tmp, n)).length <= 1_100_000, n);
    assert.ok(existsSync(file));
    const last = readFileSync(file, 'utf8').trim().split('\n').pop()!;
    assert.equal(JSON.parse(last).i, 799);
  });
});

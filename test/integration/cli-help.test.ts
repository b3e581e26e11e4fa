/** Every command and subcommand answers --help with its usage and exit code 0. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';

const root = new URL('../..', import.meta.url).pathname;

function help(script: string, args: string[]): { status: number | null; out: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', script, ...args, '--help'], {
    cwd: root,
    encoding: 'utf8',
    timeout: 30_000,
  });
  return { status: r.status, out: r.stdout };
}

describe('--help', () => {
  for (const sub of ['', 'client', 'push', 'token', 'demo-upstreams']) {
    it(`gatesvr ${sub || '(gateway)'} --help`, () => {
      const r = help('src/cli/main.ts', sub ? [sub] : []);
      assert.equal(r.status, 0, r.out);
      assert.match(r.out, new RegExp(`usage:[\\s\\S]*gatesvr ${sub}`));
    });
  }
  it('npm run nemesis -- --help', () => {
    const r = help('test/nemesis/main.ts', []);
    assert.equal(r.status, 0, r.out);
    assert.match(r.out, /usage: npm run nemesis/);
  });
  it('npm run bench -- failover --help', () => {
    const r = help('bench/main.ts', ['failover']);
    assert.equal(r.status, 0, r.out);
    assert.match(r.out, /failover: [\s\S]*--sessions/);
  });
});

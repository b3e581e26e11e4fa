/**
 * Every command and subcommand answers --help with its usage and exit code 0; the
 * help lists every option of the command's table (src/cli/commands.ts), and an
 * option the table does not have is refused with one line naming it.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { GATEWAY_COMMAND, SUBCOMMANDS } from '../../src/cli/commands.js';
import { flagLabel } from '../../src/cli/options.js';
import { CONFIG_FLAG_OPTIONS } from '../../src/config/load.js';

const root = new URL('../..', import.meta.url).pathname;

function gatesvr(script: string, args: string[]): { status: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', script, ...args], {
    cwd: root,
    encoding: 'utf8',
    timeout: 30_000,
  });
  return { status: r.status, out: r.stdout, err: r.stderr };
}
const help = (script: string, args: string[]) => gatesvr(script, [...args, '--help']);

const commands = [['', GATEWAY_COMMAND] as const, ...Object.entries(SUBCOMMANDS)];

describe('--help', () => {
  for (const [sub, spec] of commands) {
    it(`gatesvr ${sub || '(gateway)'} --help lists every option of its table`, () => {
      const r = help('src/cli/main.ts', sub ? [sub] : []);
      assert.equal(r.status, 0, r.out);
      assert.match(r.out, new RegExp(`usage: gatesvr ${sub}`));
      for (const [name, o] of Object.entries(spec.options))
        assert.ok(r.out.includes(flagLabel(name, o)), name);
    });
    it(`gatesvr ${sub || '(gateway)'} --no-such-option: exit 2, one line naming it`, () => {
      const r = gatesvr('src/cli/main.ts', [...(sub ? [sub] : []), '--no-such-option']);
      assert.equal(r.status, 2, r.err);
      assert.equal(r.out, '');
      assert.equal(r.err.trimEnd().split('\n').length, 1, r.err);
      assert.match(r.err, /unknown (option|flag) --no-such-option/);
    });
  }
  it('the gateway table is the set of flags loadConfig parses', () => {
    assert.deepEqual(Object.keys(GATEWAY_COMMAND.options).sort(), Object.keys(CONFIG_FLAG_OPTIONS).sort());
  });
  it('gatesvr --help lists every subcommand', () => {
    const r = help('src/cli/main.ts', []);
    for (const sub of Object.keys(SUBCOMMANDS)) assert.match(r.out, new RegExp(`gatesvr ${sub} `));
  });
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
  it('npm run bench -- peers --help', () => {
    const r = help('bench/main.ts', ['peers']);
    assert.equal(r.status, 0, r.out);
    assert.match(r.out, /peers: [\s\S]*--quick/);
  });
});

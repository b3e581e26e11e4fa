/**
 * The repository stands alone: every relative link in README.md and docs/*.md
 * points at a file inside the repository that exists.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, it } from 'node:test';

const root = resolve(new URL('../..', import.meta.url).pathname);
const files = [
  join(root, 'README.md'),
  ...readdirSync(join(root, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => join(root, 'docs', f)),
];

describe('documentation links', () => {
  for (const file of files) {
    it(`${relative(root, file)}: relative links stay inside the repository and exist`, () => {
      const text = readFileSync(file, 'utf8');
      for (const m of text.matchAll(/\]\(([^)\s]+)\)/g)) {
        const target = m[1]!;
        if (/^[a-z]+:/i.test(target) || target.startsWith('#')) continue;
        const path = resolve(dirname(file), target.split('#')[0]!);
        assert.ok(!relative(root, path).startsWith('..'), `${target} leaves the repository`);
        assert.ok(existsSync(path), `${target} does not exist`);
      }
    });
  }
});

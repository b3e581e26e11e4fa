import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { DOC_FILE, flagTable, keyTables, renderDoc } from '../../scripts/config-docs.js';
import { FIELDS, GatewaySchema } from '../../src/config/schema.js';

describe('docs/configuration.md is generated from the schema', () => {
  it('its key and flag tables are what npm run docs:config writes', () => {
    const doc = readFileSync(DOC_FILE, 'utf8');
    assert.ok(doc.includes(keyTables()) && doc.includes(flagTable()), 'run npm run docs:config');
    assert.equal(renderDoc(doc), doc, 'run npm run docs:config');
  });

  it('a changed table is put back between the markers, the prose around them kept', () => {
    const doc = readFileSync(DOC_FILE, 'utf8');
    const edited = doc.replace(
      '| `server.max_retries` | integer | `3` |',
      '| `server.max_retries` | integer | `4` |',
    );
    assert.notEqual(edited, doc);
    assert.equal(renderDoc(edited), doc);
    assert.throws(() => renderDoc('# no markers'), /markers for the flags table are missing/);
  });

  it('every key has a description, and one row per key', () => {
    for (const s of FIELDS) assert.ok(s.doc.length > 10, `${s.path} has a description`);
    assert.equal(
      keyTables()
        .split('\n')
        .filter((l) => l.startsWith('| `')).length,
      FIELDS.length,
    );
  });

  it("every default lies within its own key's range (the schema accepts its output)", () => {
    const defaults = GatewaySchema.parse(undefined);
    assert.deepEqual(GatewaySchema.parse(defaults), defaults);
  });
});

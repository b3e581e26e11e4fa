/**
 * docs/architecture.md cannot drift from the session machine: its generated
 * statechart section must equal what `npm run docs:diagrams` makes of the machine.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { ARCHITECTURE_DOC, regenerated } from '../../scripts/docs-diagrams.js';
import { replaceSection, statechartMermaid } from '../../scripts/statechart-mermaid.js';
import { sessionMachine } from '../../src/machines/session-machine.js';

describe('docs/architecture.md statechart', () => {
  it('matches the machine definition (run npm run docs:diagrams after changing the machine)', () => {
    const doc = readFileSync(ARCHITECTURE_DOC, 'utf8');
    assert.equal(doc, regenerated(doc));
  });

  it('draws every state and every event of the machine', () => {
    const text = statechartMermaid(sessionMachine);
    assert.match(text, /^stateDiagram-v2\n/);
    for (const key of ['active', 'phase', 'inited', 'normal', 'link', 'detached', 'attached', 'closed']) {
      assert.match(text, new RegExp(`\\b${key}\\b`));
    }
    for (const event of [
      'ATTACH',
      'DETACH',
      'SHUTDOWN',
      'STOP',
      'KICK',
      'TICK',
      'HEARTBEAT',
      'ACK',
      'BUSINESS',
    ]) {
      assert.ok(text.includes(event), event);
    }
  });

  it('a stale section is detected', () => {
    const doc = readFileSync(ARCHITECTURE_DOC, 'utf8');
    const stale = replaceSection(doc, 'session-statechart', 'stateDiagram-v2\n  [*] --> nowhere\n');
    assert.notEqual(regenerated(stale), stale);
  });
});

/**
 * Renders an XState v5 machine as a Mermaid `stateDiagram-v2` plus a Markdown
 * table of every transition, by walking its StateNode tree (root.states,
 * transitions, always, after), so the documented statechart is the machine
 * itself. Pure: text in, text out.
 *
 * Readability rules: an edge that would cross a composite boundary is lifted to
 * the outermost states it leaves and enters (Mermaid cannot link states inside
 * different composites), a `stateIn(X)` guard on a parent's transition is drawn
 * from X, and three or more guarded branches of one event between the same
 * states are drawn as one edge; the table lists every branch in priority order.
 */
import type { AnyStateMachine, AnyStateNode } from 'xstate';

interface Branch {
  source: AnyStateNode;
  event: string;
  guard: string;
  target: AnyStateNode | undefined;
  reenter: boolean;
  actions: string[];
}

type GuardLike =
  | string
  | { type?: string; name?: string; guards?: unknown[]; stateValue?: unknown }
  | undefined;

const AFTER_PREFIX = 'xstate.after.';

/** `{ active: { link: 'attached' } }` -> ['active', 'link', 'attached']. */
function statePath(value: unknown): string[] {
  if (typeof value === 'string') return value.split('.');
  if (value && typeof value === 'object') {
    const [key, child] = Object.entries(value)[0] ?? [];
    return key === undefined ? [] : [key, ...statePath(child)];
  }
  return [];
}

/** A guard's name as written in the machine: named guards, and/or/not, stateIn. */
function guardName(g: GuardLike): string {
  if (g === undefined) return '';
  if (typeof g === 'string') return g;
  if (typeof g === 'function' || typeof g === 'object') {
    const name = (g as { name?: string }).name ?? (g as { type?: string }).type ?? 'inline';
    const parts = ((g as { guards?: GuardLike[] }).guards ?? []).map(guardName);
    if (name === 'and') return parts.join(' and ');
    if (name === 'or') return parts.map((p) => (p.includes(' ') ? `(${p})` : p)).join(' or ');
    if (name === 'not') return `not ${parts[0]}`;
    if (name === 'stateIn') return `in ${statePath((g as { stateValue?: unknown }).stateValue).join('.')}`;
    return name;
  }
  return 'inline';
}

function actionName(a: unknown): string {
  if (typeof a === 'string') return a;
  if (a && (typeof a === 'object' || typeof a === 'function')) {
    const t = (a as { type?: unknown }).type;
    if (typeof t === 'string') return t;
  }
  return 'inline';
}

function eventLabel(event: string): string {
  if (!event.startsWith(AFTER_PREFIX)) return event;
  return `after ${event.slice(AFTER_PREFIX.length).split('.')[0]}ms`;
}

function branchesOf(node: AnyStateNode): Branch[] {
  const out: Branch[] = [];
  const add = (event: string, t: AnyStateNode['always'] extends (infer T)[] | undefined ? T : never) => {
    out.push({
      source: node,
      event,
      guard: guardName(t.guard as GuardLike),
      target: t.target?.[0],
      reenter: t.reenter,
      actions: t.actions.map(actionName),
    });
  };
  for (const [event, ts] of node.transitions) for (const t of ts) add(eventLabel(event), t);
  for (const t of node.always ?? []) add('always', t);
  return out;
}

function allNodes(node: AnyStateNode): AnyStateNode[] {
  return [node, ...Object.values(node.states).flatMap(allNodes)];
}

/** Mermaid ids are global: the state's key, unless two states share one. */
function idsOf(root: AnyStateNode): Map<AnyStateNode, string> {
  const nodes = allNodes(root).slice(1);
  const count = new Map<string, number>();
  for (const n of nodes) count.set(n.key, (count.get(n.key) ?? 0) + 1);
  return new Map(nodes.map((n) => [n, count.get(n.key)! > 1 ? n.path.join('_') : n.key]));
}

const isAncestor = (a: AnyStateNode, b: AnyStateNode): boolean => b.id.startsWith(`${a.id}.`);

/** A `stateIn(X)` first term naming a descendant of the source: draw the branch from X. */
function relocate(b: Branch, byId: Map<string, AnyStateNode>, root: AnyStateNode): Branch {
  const m = /^in ([\w.]+)(?: and (.*))?$/.exec(b.guard);
  if (!m) return b;
  const at = byId.get(`${root.id}.${m[1]}`);
  if (!at || !isAncestor(b.source, at)) return b;
  return { ...b, source: at, guard: m[2] ?? '' };
}

/** The children of the lowest common ancestor that contain a and b (the edge Mermaid can draw). */
function lift(a: AnyStateNode, b: AnyStateNode): [AnyStateNode, AnyStateNode, AnyStateNode] | null {
  let lca = a.parent;
  while (lca && !(isAncestor(lca, b) && isAncestor(lca, a))) lca = lca.parent;
  if (!lca) return null;
  const childOf = (n: AnyStateNode): AnyStateNode => {
    let c = n;
    while (c.parent !== lca) c = c.parent!;
    return c;
  };
  return [lca, childOf(a), childOf(b)];
}

interface Edge {
  from: string;
  to: string;
  label: string;
}

function edgeLabel(b: Branch, drawnFrom: AnyStateNode, drawnTo: AnyStateNode, root: AnyStateNode): string {
  const rel = (n: AnyStateNode) => n.path.join('.') || root.key;
  const parts = [b.event];
  if (b.guard) parts.push(`[${b.guard}]`);
  if (b.reenter) parts.push('(reenter)');
  if (drawnFrom !== b.source) parts.push(`(from ${rel(b.source)})`);
  if (b.target && drawnTo !== b.target) parts.push(`(to ${rel(b.target)})`);
  return parts.join(' ');
}

/** Threshold above which branches of one event between the same two states become one edge. */
const GROUP_AT = 3;

interface Drawn extends Edge {
  scope: AnyStateNode;
  event: string;
}

/** Where Mermaid draws a branch, or null when it changes no state of its own (the table lists it). */
function draw(b: Branch, ids: Map<AnyStateNode, string>, root: AnyStateNode): Drawn | null {
  const target = b.target ?? b.source;
  if (b.target === undefined && b.source.type !== 'atomic') return null;
  const lifted =
    target === b.source ? ([b.source.parent!, b.source, b.source] as const) : lift(b.source, target);
  if (!lifted) return null;
  const [scope, from, to] = lifted;
  return {
    scope,
    event: b.event,
    from: ids.get(from)!,
    to: ids.get(to)!,
    label: edgeLabel(b, from, to, root),
  };
}

export function statechartMermaid(machine: AnyStateMachine): string {
  const root = machine.root;
  const ids = idsOf(root);
  const byId = new Map(allNodes(root).map((n) => [n.id, n]));
  const groups = new Map<string, Drawn[]>();
  for (const node of allNodes(root)) {
    for (const b of branchesOf(node)) {
      const d = draw(relocate(b, byId, root), ids, root);
      if (!d) continue;
      const key = `${d.from}>${d.to}>${d.event}`;
      groups.set(key, [...(groups.get(key) ?? []), d]);
    }
  }
  // Edges by the composite state whose block declares them.
  const scoped = new Map<AnyStateNode, Edge[]>();
  // Mermaid draws one self-loop per state: a state's self-transitions share one edge.
  const loops = new Map<string, Drawn>();
  for (const g of groups.values()) {
    const edges =
      g.length >= GROUP_AT ? [{ ...g[0]!, label: `${g[0]!.event} (${g.length} guarded outcomes)` }] : g;
    for (const e of edges) {
      const loop = e.from === e.to ? loops.get(e.from) : undefined;
      if (loop) loop.label = `${loop.label}, ${e.label}`;
      else {
        if (e.from === e.to) loops.set(e.from, e);
        scoped.set(e.scope, [...(scoped.get(e.scope) ?? []), e]);
      }
    }
  }

  const lines = ['stateDiagram-v2'];
  const block = (node: AnyStateNode, indent: string): void => {
    const children = Object.values(node.states);
    if (node.type === 'parallel') {
      children.forEach((c, i) => {
        if (i > 0) lines.push(`${indent}--`);
        state(c, indent);
      });
    } else {
      if (node.initial?.target[0]) lines.push(`${indent}[*] --> ${ids.get(node.initial.target[0])}`);
      for (const c of children) state(c, indent);
    }
    for (const e of scoped.get(node) ?? []) lines.push(`${indent}${e.from} --> ${e.to}: ${e.label}`);
    for (const c of children) if (c.type === 'final') lines.push(`${indent}${ids.get(c)} --> [*]`);
  };
  const state = (node: AnyStateNode, indent: string): void => {
    if (node.type === 'compound' || node.type === 'parallel') {
      lines.push(`${indent}state ${ids.get(node)} {`);
      block(node, `${indent}  `);
      lines.push(`${indent}}`);
    } else lines.push(`${indent}${ids.get(node)}`);
  };
  block(root, '  ');
  return `${lines.join('\n')}\n`;
}

/** Every transition in priority order (document order, first guard that holds wins). */
export function transitionTable(machine: AnyStateMachine): string {
  const root = machine.root;
  const rel = (n: AnyStateNode) => n.path.join('.') || root.key;
  const rows = ['| state | event | guard | target | actions |', '|---|---|---|---|---|'];
  for (const node of allNodes(machine.root)) {
    for (const b of branchesOf(node)) {
      const target = b.target ? `${rel(b.target)}${b.reenter ? ' (reenter)' : ''}` : '(stays)';
      const cells = [rel(b.source), b.event, b.guard || '-', target, b.actions.join(', ') || '-'];
      rows.push(
        `| ${cells.map((c) => `\`${c}\``.replace('`-`', '-').replace('`(stays)`', '(stays)')).join(' | ')} |`,
      );
    }
  }
  return `${rows.join('\n')}\n`;
}

/** Replaces the text between `<!-- BEGIN name -->` and `<!-- END name -->` (markers kept). */
export function replaceSection(doc: string, name: string, body: string): string {
  const begin = `<!-- BEGIN ${name} -->`;
  const end = `<!-- END ${name} -->`;
  const i = doc.indexOf(begin);
  const j = doc.indexOf(end);
  if (i < 0 || j < i) throw new Error(`markers ${begin} ... ${end} not found`);
  return `${doc.slice(0, i + begin.length)}\n${body}${doc.slice(j)}`;
}

/**
 * What one parsed input may cost: the size of the document once every YAML alias is expanded,
 * and its nesting depth. js-yaml 4 has no alias limit; it shares one object per anchor, so a
 * "billion laughs" file parses in a millisecond into a small graph whose expansion (what any
 * walk over it, JSON.stringify or a structured clone does) is 10^9 nodes. `measure` walks the
 * parsed graph once per distinct object (memoised, iterative: no recursion, so no stack
 * overflow at any depth) and computes the expanded node count and depth without expanding.
 *
 * JSON has no aliases but can nest deeper than any recursive reader (jsonc-parser, our walks)
 * can go: `jsonDepthOffset` finds, before parsing, where the text nests deeper than allowed.
 */

export interface Bounds {
  /** Nodes (mappings, sequences, scalars) of the document with every alias expanded. */
  maxNodes: number;
  /** Nesting depth of mappings and sequences. */
  maxDepth: number;
}

export interface Measured {
  /** Expanded node count (stops counting past maxNodes). */
  nodes: number;
  depth: number;
  /** References to an object already seen (YAML aliases to mappings or sequences). */
  aliases: number;
  /** What was exceeded, and the object where it was. */
  exceeded?: { what: 'nodes' | 'depth' | 'cycle'; at: object };
}

type Frame = { obj: object; children: unknown[]; i: number; nodes: number; depth: number };

const childrenOf = (o: object): unknown[] => (Array.isArray(o) ? o : Object.values(o));

/** The expanded size and depth of a parsed value, stopping at the first bound exceeded. */
export function measure(value: unknown, bounds: Bounds): Measured {
  if (value === null || typeof value !== 'object') return { nodes: 1, depth: 0, aliases: 0 };
  const done = new Map<object, { nodes: number; depth: number }>();
  const onPath = new Set<object>();
  let aliases = 0;
  const stack: Frame[] = [{ obj: value, children: childrenOf(value), i: 0, nodes: 1, depth: 1 }];
  onPath.add(value);
  for (;;) {
    const top = stack[stack.length - 1];
    if (top.i < top.children.length) {
      const child = top.children[top.i++];
      if (child === null || typeof child !== 'object') {
        top.nodes++;
      } else {
        const known = done.get(child);
        if (known) {
          aliases++;
          top.nodes += known.nodes;
          top.depth = Math.max(top.depth, known.depth + 1);
        } else if (onPath.has(child)) {
          return { nodes: top.nodes, depth: stack.length, aliases, exceeded: { what: 'cycle', at: child } };
        } else {
          if (stack.length >= bounds.maxDepth) return { nodes: top.nodes, depth: stack.length + 1, aliases, exceeded: { what: 'depth', at: child } };
          stack.push({ obj: child, children: childrenOf(child), i: 0, nodes: 1, depth: 1 });
          onPath.add(child);
          continue;
        }
      }
      if (top.nodes > bounds.maxNodes) return { nodes: top.nodes, depth: top.depth, aliases, exceeded: { what: 'nodes', at: top.obj } };
      if (stack.length - 1 + top.depth > bounds.maxDepth)
        return { nodes: top.nodes, depth: stack.length - 1 + top.depth, aliases, exceeded: { what: 'depth', at: top.obj } };
      continue;
    }
    stack.pop();
    onPath.delete(top.obj);
    done.set(top.obj, { nodes: top.nodes, depth: top.depth });
    const parent = stack[stack.length - 1];
    if (!parent) return { nodes: top.nodes, depth: top.depth, aliases };
    parent.nodes += top.nodes;
    parent.depth = Math.max(parent.depth, top.depth + 1);
    if (parent.nodes > bounds.maxNodes) return { nodes: parent.nodes, depth: parent.depth, aliases, exceeded: { what: 'nodes', at: top.obj } };
  }
}

/**
 * The offset in JSON text where arrays and objects nest deeper than `maxDepth` (strings
 * skipped), or -1. Linear, no recursion: runs before any parser sees the text.
 */
export function jsonDepthOffset(text: string, maxDepth: number): number {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92 /* \ */) i++;
      else if (c === 34 /* " */) inString = false;
    } else if (c === 34) inString = true;
    else if (c === 91 /* [ */ || c === 123 /* { */) {
      if (++depth > maxDepth) return i;
    } else if (c === 93 /* ] */ || c === 125 /* } */) depth--;
  }
  return -1;
}

/**
 * The same for YAML flow collections (`[[[[…` or `{a: {a: …`), which js-yaml reads
 * recursively: quoted scalars and comments are skipped. Block nesting needs an indented line
 * per level and is caught by `measure` (or by the parser's recursion limit, reported the same way).
 */
export function yamlFlowDepthOffset(text: string, maxDepth: number): number {
  let depth = 0;
  let quote = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (quote) {
      if (quote === 34 && c === 92) i++;
      else if (c === quote) {
        if (quote === 39 && text.charCodeAt(i + 1) === 39) i++;
        else quote = 0;
      }
    } else if ((c === 34 || c === 39) && (i === 0 || /[\s[{,:]/.test(text[i - 1]))) quote = c;
    else if (c === 35 /* # */ && (i === 0 || /\s/.test(text[i - 1]))) {
      const nl = text.indexOf('\n', i);
      if (nl === -1) break;
      i = nl;
    } else if (c === 91 || c === 123) {
      if (++depth > maxDepth) return i;
    } else if ((c === 93 || c === 125) && depth > 0) depth--;
  }
  return -1;
}

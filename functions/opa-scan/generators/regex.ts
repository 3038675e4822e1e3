/**
 * RE2 regex → example label value, for K8sRequiredLabels' allowedRegex (moved out of
 * library.ts: a self-contained parser and candidate generator).
 */
import { isLabelValue } from './base.ts';

// ---------------------------------------------------------------------------
// regex → example label value
//
// A string that an RE2-syntax regular expression matches and that is a valid
// Kubernetes label value, to satisfy K8sRequiredLabels' allowedRegex.
// Supported: literals and escapes, `.`, character classes (ranges, negation,
// \d \w \s and their negations), groups (capturing, `(?:`, `(?P<n>`, `(?<n>`),
// alternation, quantifiers `* + ? {n} {n,} {n,m}` (also lazy), anchors `^ $ \A \z`,
// `\b \B`, and leading flags `(?i)`, `(?s)`, `(?m)`. Anything else (Unicode
// classes, \Q…\E, flags inside the pattern, backreferences …) is reported as
// unsupported. Candidates are built from the pattern and then VERIFIED with the
// JavaScript engine (same semantics as RE2 for the supported subset), so a
// returned value always matches; when no candidate works the reason is given.
// Gatekeeper matches allowedRegex unanchored (Rego regex.match, CEL matches()):
// the value must contain a match, so padding is tried for unanchored patterns.

type RxNode =
  | { t: 'chars'; pick: string[] } // one character, candidates in order of preference
  | { t: 'empty' } // zero-width (anchors, \b)
  | { t: 'alt'; alts: RxNode[][] }
  | { t: 'rep'; node: RxNode; min: number; max: number };

const PREFERRED = 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ-_.';
const PRINTABLE = `${PREFERRED} !"#$%&'()*+,/:;<=>?@[\\]^\`{|}~`;
const MAX_CANDIDATES = 256;
const DIGITS = '0123456789';
const WORD = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_';
const SPACE = ' \t\n\r\f\v';

class Unsupported extends Error {}

function printable(test: (ch: string) => boolean): string[] {
  return [...PRINTABLE].filter(test);
}

class RxParser {
  i = 0;
  constructor(readonly s: string) {}

  parse(): RxNode[][] {
    const alts = this.alternation();
    if (this.i < this.s.length) throw new Unsupported(`an unbalanced ')' at offset ${this.i}`);
    return alts;
  }

  private alternation(): RxNode[][] {
    const alts: RxNode[][] = [this.sequence()];
    while (this.s[this.i] === '|') {
      this.i++;
      alts.push(this.sequence());
    }
    return alts;
  }

  private sequence(): RxNode[] {
    const seq: RxNode[] = [];
    while (this.i < this.s.length && this.s[this.i] !== '|' && this.s[this.i] !== ')') {
      let atom = this.atom();
      for (let q = this.quantifier(); q; q = this.quantifier()) {
        if (atom.t === 'empty') throw new Unsupported('a quantifier on an anchor');
        atom = { t: 'rep', node: atom, min: q.min, max: q.max };
      }
      seq.push(atom);
    }
    return seq;
  }

  private quantifier(): { min: number; max: number } | undefined {
    const ch = this.s[this.i];
    let q: { min: number; max: number } | undefined;
    if (ch === '*') q = { min: 0, max: Infinity };
    else if (ch === '+') q = { min: 1, max: Infinity };
    else if (ch === '?') q = { min: 0, max: 1 };
    else if (ch === '{') {
      const m = /^\{(\d+)(,(\d*))?\}/.exec(this.s.slice(this.i));
      if (!m) return undefined; // a literal '{', as RE2 reads it
      const min = Number(m[1]);
      q = { min, max: m[2] === undefined ? min : m[3] === '' ? Infinity : Number(m[3]) };
      this.i += m[0].length - 1;
    }
    if (!q) return undefined;
    this.i++;
    if (this.s[this.i] === '?') this.i++; // lazy: same language
    return q;
  }

  private atom(): RxNode {
    const ch = this.s[this.i++];
    switch (ch) {
      case '(': {
        if (this.s[this.i] === '?') {
          const m = /^\?(:|P<[A-Za-z_]\w*>|<[A-Za-z_]\w*>)/.exec(this.s.slice(this.i));
          if (!m) throw new Unsupported(`the group syntax '(${this.s.slice(this.i, this.i + 3)}'`);
          this.i += m[0].length;
        }
        const alts = this.alternation();
        if (this.s[this.i] !== ')') throw new Unsupported('an unclosed group');
        this.i++;
        return { t: 'alt', alts };
      }
      case '[':
        return this.charClass();
      case '.':
        return { t: 'chars', pick: printable((x) => x !== '\n') };
      case '^':
      case '$':
        return { t: 'empty' };
      case '\\':
        return this.escape(false) as RxNode;
      case '*':
      case '+':
      case '?':
        throw new Unsupported(`a quantifier '${ch}' with nothing to repeat`);
      default:
        return { t: 'chars', pick: [ch] };
    }
  }

  /** After a backslash: a node, or (inside a class) the characters. */
  private escape(inClass: boolean): RxNode | string[] {
    const ch = this.s[this.i++];
    if (ch === undefined) throw new Unsupported('a trailing backslash');
    const set = (chars: string[]) => (inClass ? chars : ({ t: 'chars', pick: chars } as RxNode));
    switch (ch) {
      case 'd':
        return set([...DIGITS]);
      case 'D':
        return set(printable((x) => !DIGITS.includes(x)));
      case 'w':
        return set(printable((x) => WORD.includes(x)));
      case 'W':
        return set(printable((x) => !WORD.includes(x)));
      case 's':
        return set([...SPACE]);
      case 'S':
        return set(printable((x) => !SPACE.includes(x)));
      case 'n':
        return set(['\n']);
      case 't':
        return set(['\t']);
      case 'r':
        return set(['\r']);
      case 'f':
        return set(['\f']);
      case 'v':
        return set(['\v']);
      case 'A':
      case 'z':
      case 'b':
      case 'B':
        if (inClass) throw new Unsupported(`\\${ch} inside a character class`);
        return { t: 'empty' };
      default:
        if (/[A-Za-z0-9]/.test(ch)) throw new Unsupported(`the escape \\${ch}`);
        return set([ch]);
    }
  }

  private charClass(): RxNode {
    let negate = false;
    if (this.s[this.i] === '^') {
      negate = true;
      this.i++;
    }
    const members = new Set<string>();
    let first = true;
    while (this.i < this.s.length && (this.s[this.i] !== ']' || first)) {
      first = false;
      if (this.s.startsWith('[:', this.i)) throw new Unsupported('POSIX character classes');
      let lo: string[];
      if (this.s[this.i] === '\\') {
        this.i++;
        lo = this.escape(true) as string[];
      } else lo = [this.s[this.i++]];
      if (lo.length === 1 && this.s[this.i] === '-' && this.i + 1 < this.s.length && this.s[this.i + 1] !== ']') {
        this.i++;
        let hi: string;
        if (this.s[this.i] === '\\') {
          this.i++;
          const e = this.escape(true) as string[];
          if (e.length !== 1) throw new Unsupported('a class escape as a range end');
          hi = e[0];
        } else hi = this.s[this.i++];
        const a = lo[0].charCodeAt(0);
        const b = hi.charCodeAt(0);
        if (b < a) throw new Unsupported(`the invalid range ${lo[0]}-${hi}`);
        for (let x = a; x <= b && x < 0x7f; x++) members.add(String.fromCharCode(x));
      } else for (const x of lo) members.add(x);
    }
    if (this.s[this.i] !== ']') throw new Unsupported('an unclosed character class');
    this.i++;
    const pick = negate ? printable((x) => !members.has(x) && x !== '\n') : [...new Set([...PRINTABLE, ...members])].filter((x) => members.has(x));
    if (!pick.length) throw new Unsupported('a character class that no printable character satisfies');
    return { t: 'chars', pick };
  }
}

/** Candidate strings for a node, most preferred first, at most `limit`. */
function rxCandidates(node: RxNode, limit: number): string[] {
  switch (node.t) {
    case 'empty':
      return [''];
    case 'chars':
      return node.pick.slice(0, 3);
    case 'alt': {
      const out: string[] = [];
      for (const seq of node.alts) {
        for (const s of rxSequence(seq, limit)) {
          if (!out.includes(s)) out.push(s);
          if (out.length >= limit) return out;
        }
      }
      return out;
    }
    case 'rep': {
      const inner = rxCandidates(node.node, limit);
      const out: string[] = [];
      // the minimum count, then one more (a non-empty choice helps when the minimum is 0)
      for (const n of [node.min, node.min + 1].filter((k) => k <= node.max && k <= 64)) {
        for (const s of inner) {
          const v = s.repeat(n);
          if (!out.includes(v)) out.push(v);
          if (out.length >= limit) return out;
        }
      }
      return out;
    }
  }
}

function rxSequence(seq: RxNode[], limit: number): string[] {
  let acc = [''];
  for (const n of seq) {
    const next: string[] = [];
    const cs = rxCandidates(n, limit);
    outer: for (const a of acc) {
      for (const ch of cs) {
        next.push(a + ch);
        if (next.length >= limit) break outer;
      }
    }
    acc = next;
  }
  return acc;
}

const LEADING_FLAGS = /^\(\?([ims]+)\)/;

/** The JavaScript equivalent of an RE2 pattern (leading flags, (?P<name>); throws for what JS cannot express. */
export function toJsRegExp(pattern: string): RegExp {
  const m = LEADING_FLAGS.exec(pattern);
  const body = m ? pattern.slice(m[0].length) : pattern;
  if (/\(\?[a-zA-Z-]+[:)]/.test(body)) throw new Unsupported('inline flags inside the pattern');
  return new RegExp(body.replace(/\(\?P</g, '(?<'), m ? [...new Set(m[1])].join('') : '');
}

export type LabelExample = { value: string } | { reason: string };

/** A valid label value that `pattern` matches (unanchored, as Gatekeeper matches), or why none was found. */
export function labelValueMatching(pattern: string): LabelExample {
  let re: RegExp;
  let alts: RxNode[][];
  try {
    re = toJsRegExp(pattern);
    const m = LEADING_FLAGS.exec(pattern);
    alts = new RxParser(m ? pattern.slice(m[0].length) : pattern).parse();
  } catch (e) {
    const why =
      e instanceof Unsupported ? `it uses ${e.message}, which the example generator does not support` : `it does not compile: ${(e as Error).message}`;
    return { reason: `cannot build a label value for allowedRegex ${JSON.stringify(pattern)}: ${why}` };
  }
  const raw = rxCandidates({ t: 'alt', alts }, MAX_CANDIDATES);
  const ordered = [...raw.filter((s) => s !== ''), ...raw.filter((s) => s === '')];
  for (const core of ordered) {
    for (const v of [core, `a${core}`, `${core}a`, `a${core}a`]) {
      if (isLabelValue(v) && re.test(v)) return { value: v };
    }
  }
  return {
    reason:
      `no valid label value (at most 63 characters of [-A-Za-z0-9_.], alphanumeric at both ends) matching allowedRegex ` +
      `${JSON.stringify(pattern)} was found among ${ordered.length} candidates`,
  };
}

/** A valid label value that `pattern` does NOT match, or undefined. */
export function labelValueNotMatching(pattern: string): string | undefined {
  let re: RegExp;
  try {
    re = toJsRegExp(pattern);
  } catch {
    return undefined;
  }
  return ['stack-scan-invalid', 'x', '0', 'Z', 'invalid.value_0', 'zz-not-allowed-zz'].find((v) => !re.test(v));
}

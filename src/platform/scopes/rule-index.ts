import { endsWithStar } from './match.ts';
import { normalizeScopeSet } from './normalize.ts';

/**
 * Rules are roles with the `assume:` stripped from both sides: an input (what follows
 * `assume:` in a held scope) matching `pattern` is granted `scopes`. A pattern ending in
 * `*` is a prefix rule, matching every input that starts with the rest of the pattern; in
 * a prefix rule's scopes the first `<..>` stands for the part of the input the `*` matched.
 */
export interface Rule {
  readonly pattern: string;
  readonly scopes: readonly string[];
}

export const PARAM = '<..>';

export interface IndexedRule {
  readonly pattern: string;
  /** The pattern without its trailing `*` when `isPrefix`, otherwise the pattern itself. */
  readonly key: string;
  readonly isPrefix: boolean;
  /** Normalized scopes granted whatever the parameter. */
  readonly fixed: readonly string[];
  /** Scopes containing `<..>`, only ever non-empty for prefix rules. */
  readonly parameterized: readonly string[];
}

/**
 * Substitute a rule parameter. When the parameter itself ends in `*` (the input was a
 * prefix pattern) the result must cover every input it stands for, so it ends at the
 * parameter's `*` and whatever followed `<..>` is dropped: `A<..>B` with `x*` gives `Ax*`.
 */
export function substituteParam(scope: string, param: string): string {
  const at = scope.indexOf(PARAM);
  if (endsWithStar(param)) {
    return scope.slice(0, at) + param;
  }
  return scope.slice(0, at) + param + scope.slice(at + PARAM.length);
}

interface TrieNode {
  children: Map<number, TrieNode> | null;
  rule: IndexedRule | null;
}

const newNode = (): TrieNode => ({ children: null, rule: null });

function lowerBound(sortedKeys: readonly string[], key: string): number {
  let lo = 0;
  let hi = sortedKeys.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sortedKeys[mid] < key) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return lo;
}

/** Called once per (rule, parameter) an input matches; `param` is meaningless for exact rules. */
export type MatchVisitor = (rule: IndexedRule, param: string) => void;

/**
 * Finds the rules an input matches, in time proportional to the input's length plus the
 * number of matches.
 *
 * An input not ending in `*` is a literal: it matches the exact rule equal to it, and
 * every prefix rule whose key is a prefix of it (parameter: the rest of the input).
 * An input `I*` stands for every input starting with I, so it also matches every rule
 * whose key starts with I (parameter `*`), besides the prefix rules whose key is a
 * prefix of I (parameter: the rest of I, then `*`).
 *
 * Prefix-rule keys live in a character trie, walked along the input. Keys starting with
 * a given string are a contiguous range of a sorted array, found by binary search.
 */
export class RuleIndex {
  readonly rules: readonly IndexedRule[];
  private readonly exact = new Map<string, IndexedRule>();
  private readonly root: TrieNode = newNode();
  private readonly exactSorted: IndexedRule[];
  private readonly exactKeys: string[];
  private readonly prefixSorted: IndexedRule[];
  private readonly prefixKeys: string[];

  constructor(rules: readonly Rule[]) {
    // Patterns are unique in practice; if not, the rules are merged.
    const byPattern = new Map<string, string[]>();
    for (const { pattern, scopes } of rules) {
      const existing = byPattern.get(pattern);
      if (existing) {
        existing.push(...scopes);
      } else {
        byPattern.set(pattern, [...scopes]);
      }
    }
    const indexed: IndexedRule[] = [];
    for (const [pattern, scopes] of byPattern) {
      const rule = indexRule(pattern, scopes);
      indexed.push(rule);
      if (rule.isPrefix) {
        this.insertPrefix(rule);
      } else {
        this.exact.set(rule.key, rule);
      }
    }
    this.rules = indexed;
    const byKey = (a: IndexedRule, b: IndexedRule) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);
    this.exactSorted = indexed.filter((r) => !r.isPrefix).sort(byKey);
    this.exactKeys = this.exactSorted.map((r) => r.key);
    this.prefixSorted = indexed.filter((r) => r.isPrefix).sort(byKey);
    this.prefixKeys = this.prefixSorted.map((r) => r.key);
  }

  private insertPrefix(rule: IndexedRule): void {
    let node = this.root;
    for (let i = 0; i < rule.key.length; i++) {
      const c = rule.key.charCodeAt(i);
      node.children ??= new Map();
      let child = node.children.get(c);
      if (!child) {
        child = newNode();
        node.children.set(c, child);
      }
      node = child;
    }
    node.rule = rule;
  }

  forEachMatch(input: string, visit: MatchVisitor): void {
    const kleene = endsWithStar(input);
    const literal = kleene ? input.slice(0, -1) : input;
    const suffix = kleene ? '*' : '';

    // Prefix rules whose key is a prefix of the literal part (including all of it).
    let node: TrieNode | undefined = this.root;
    let depth = 0;
    while (node) {
      if (node.rule) {
        visit(node.rule, literal.slice(depth) + suffix);
      }
      if (depth === literal.length || !node.children) {
        break;
      }
      node = node.children.get(literal.charCodeAt(depth));
      depth++;
    }

    if (!kleene) {
      const rule = this.exact.get(input);
      if (rule) {
        visit(rule, '');
      }
      return;
    }

    // Everything whose key extends the literal part; keys equal to it were visited above.
    for (let i = lowerBound(this.prefixKeys, literal); i < this.prefixKeys.length; i++) {
      const key = this.prefixKeys[i];
      if (!key.startsWith(literal)) {
        break;
      }
      if (key.length > literal.length) {
        visit(this.prefixSorted[i], '*');
      }
    }
    for (let i = lowerBound(this.exactKeys, literal); i < this.exactKeys.length; i++) {
      if (!this.exactKeys[i].startsWith(literal)) {
        break;
      }
      visit(this.exactSorted[i], '');
    }
  }
}

function indexRule(pattern: string, scopes: readonly string[]): IndexedRule {
  if (!endsWithStar(pattern)) {
    // `<..>` means nothing in an exact rule: there is no `*` for it to stand for.
    return { pattern, key: pattern, isPrefix: false, fixed: normalizeScopeSet(scopes), parameterized: [] };
  }
  return {
    pattern,
    key: pattern.slice(0, -1),
    isPrefix: true,
    fixed: normalizeScopeSet(scopes.filter((s) => !s.includes(PARAM))),
    parameterized: [...new Set(scopes.filter((s) => s.includes(PARAM)))],
  };
}

/**
 * The normalized scopes a rule grants for a parameter. Callers must not modify the
 * result: for rules without `<..>` it is the rule's own array.
 */
export function ruleGrants(rule: IndexedRule, param: string): readonly string[] {
  if (rule.parameterized.length === 0) {
    return rule.fixed;
  }
  const scopes = [...rule.fixed];
  for (const s of rule.parameterized) {
    scopes.push(substituteParam(s, param));
  }
  return normalizeScopeSet(scopes);
}

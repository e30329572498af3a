/**
 * Index paths: dot-separated segments such as `project.branch.linux64.latest`. The last segment
 * names an entry, the ones before it its namespace; every prefix is a namespace of its own.
 */
import { ApiError } from '../../platform/errors.ts';

/** Characters a segment may hold (URL-safe, so a path never needs escaping in a route). */
const SEGMENT = /^[a-zA-Z0-9_!~*'()%-]+$/;

/** The longest index path (a response's `namespace` field holds at most this many characters). */
export const MAX_PATH_LENGTH = 255;

/** What is wrong with an index path, or undefined when it is valid. `''` is valid only if allowed. */
export function pathProblem(path: string, opts: { allowEmpty?: boolean } = {}): string | undefined {
  if (path === '') return opts.allowEmpty ? undefined : 'it is empty';
  if (path.length > MAX_PATH_LENGTH) {
    return `it is ${path.length} characters long; at most ${MAX_PATH_LENGTH} are allowed`;
  }
  const segments = path.split('.');
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i];
    if (segment === '') {
      return `segment ${i + 1} is empty (a dot at the start or end, or two dots in a row)`;
    }
    if (!SEGMENT.test(segment)) {
      const bad = [...new Set([...segment].filter((c) => !SEGMENT.test(c)))].map((c) => JSON.stringify(c));
      return (
        `segment ${i + 1} (${JSON.stringify(segment)}) holds ${bad.join(', ')}: segments are separated by ` +
        "`.` and hold only letters, digits and the characters _!~*'()%-"
      );
    }
  }
  return undefined;
}

/** Throws a 400 naming the problem when `path` is not a valid index path. */
export function checkPath(path: string, what: string, opts: { allowEmpty?: boolean } = {}): void {
  const problem = pathProblem(path, opts);
  if (problem) throw new ApiError('InputError', `${what} ${JSON.stringify(path)} is not valid: ${problem}`);
}

/** `a.b.c` → [`a.b`, `c`]; `a` → [``, `a`]. */
export function splitPath(path: string): [namespace: string, name: string] {
  const dot = path.lastIndexOf('.');
  return dot < 0 ? ['', path] : [path.slice(0, dot), path.slice(dot + 1)];
}

/** The full path of an entry or namespace from its parent and name. */
export const joinPath = (parent: string, name: string): string =>
  parent === '' ? name : name === '' ? parent : `${parent}.${name}`;

/** The namespaces above an entry at `path`, outermost first: `a.b.c` → [``/`a`, `a`/`b`]. */
export function ancestors(path: string): Array<{ parent: string; name: string }> {
  const segments = path.split('.');
  const out: Array<{ parent: string; name: string }> = [];
  for (let i = 0; i < segments.length - 1; i++) {
    out.push({ parent: segments.slice(0, i).join('.'), name: segments[i] });
  }
  return out;
}

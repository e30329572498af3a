import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

let cached: { source: string; version: string; commit: string; build: string } | undefined;

/** Dockerflow's version document; the commit comes from git when the tree is a checkout. */
export function version(): { source: string; version: string; commit: string; build: string } {
  if (cached) return cached;
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  let commit = process.env.TASKYARD_COMMIT ?? '';
  if (!commit) {
    try {
      commit = execFileSync('git', ['rev-parse', 'HEAD'], {
        cwd: new URL('../..', import.meta.url),
        stdio: ['ignore', 'pipe', 'ignore'],
      })
        .toString()
        .trim();
    } catch {
      commit = 'unknown';
    }
  }
  cached = { source: 'https://github.com/taskyard/taskyard', version: pkg.version, commit, build: 'local' };
  return cached;
}

/**
 * `npm run bench:compare -- <base> [options] [-- <bench options>]`: the queue benchmark of two
 * revisions, run in turn (base, head, base, head, ...) so that the machine's drift between runs
 * falls on both alike, and a table of every figure's runs, medians and change. On a 2-core
 * machine single runs of one revision differ by 10–20%; a comparison of one run each says
 * nothing, and runs of one revision then the other say as much about the hour as the code.
 *
 * The base revision is checked out into a temporary git worktree (sharing this checkout's
 * node_modules, so the two must need the same dependencies), removed at the end; the head is
 * this checkout as it is, uncommitted changes included.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { repoRoot, runMain } from './harness.ts';
import { table } from './queue-report.ts';

const HELP = `usage: npm run bench:compare -- <base revision> [--rounds N] [--scenario a,b] [-- <more bench options>]
  <base revision>     what to compare this checkout (with its uncommitted changes) against, e.g. HEAD~3 or a commit
  --rounds N          runs of each revision, alternating (default 3)
  --scenario a,b      the benchmark's scenarios (default create,lifecycle)
  after --            passed to every run of npm run bench (e.g. --up, --scale 0.5)`;

interface Figure {
  name: string;
  value: number;
  unit: string;
}

interface Run {
  side: 'base' | 'head';
  figures: Map<string, Figure>;
}

function git(args: string[], cwd = repoRoot): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('git', args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
    });
    child.stderr.on('data', (c: Buffer) => {
      err += c.toString();
    });
    child.on('close', (code) =>
      code === 0 ? resolve(out.trim()) : reject(new Error(`git ${args.join(' ')}: ${err.trim()}`)),
    );
  });
}

/** One run of the benchmark in `dir`; the figures of the JSON record it wrote. */
function benchOnce(dir: string, args: string[], label: string): Promise<Map<string, Figure>> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'bench/queue.ts', ...args], {
      cwd: dir,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
    });
    child.on('close', (code) => {
      const file = /^wrote (.+\.json)$/m.exec(out)?.[1];
      if (code !== 0 || !file) {
        reject(
          new Error(`the ${label} run failed (exit ${code}):\n${out.split('\n').slice(-25).join('\n')}`),
        );
        return;
      }
      const record = JSON.parse(readFileSync(file, 'utf8')) as {
        scenarios: Array<{ name: string; figures?: Figure[] }>;
      };
      const figures = new Map<string, Figure>();
      for (const s of record.scenarios)
        for (const f of s.figures ?? [])
          figures.set(`${s.name}: ${f.name}`, { ...f, name: `${s.name}: ${f.name}` });
      resolve(figures);
    });
  });
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

const show = (v: number, unit: string): string =>
  Number.isFinite(v) ? (unit === 'ms' || unit === 's' || unit === '×' ? v.toFixed(1) : v.toFixed(0)) : 'n/a';

async function main(): Promise<number> {
  const dashDash = process.argv.indexOf('--', 2);
  const own = dashDash === -1 ? process.argv.slice(2) : process.argv.slice(2, dashDash);
  const passed = dashDash === -1 ? [] : process.argv.slice(dashDash + 1);
  const { values, positionals } = parseArgs({
    args: own,
    allowPositionals: true,
    options: { rounds: { type: 'string' }, scenario: { type: 'string' }, help: { type: 'boolean' } },
  });
  if (values.help || positionals.length !== 1) {
    console.log(HELP);
    return values.help ? 0 : 2;
  }
  const rounds = Number(values.rounds ?? 3);
  if (!Number.isInteger(rounds) || rounds < 1 || rounds > 20)
    throw new Error('--rounds must be from 1 to 20');
  const base = await git(['rev-parse', '--short', positionals[0]]);
  const args = ['--scenario', values.scenario ?? 'create,lifecycle', ...passed];
  const worktree = mkdtempSync(join(tmpdir(), 'taskyard-compare-'));
  rmSync(worktree, { recursive: true });
  await git(['worktree', 'add', '--detach', worktree, base]);
  const cleanup = async () => {
    await git(['worktree', 'remove', '--force', worktree]).catch(() =>
      rmSync(worktree, { recursive: true, force: true }),
    );
  };
  process.once('SIGINT', () => {
    void cleanup().then(() => process.exit(130));
  });
  try {
    symlinkSync(join(repoRoot, 'node_modules'), join(worktree, 'node_modules'));
    const runs: Run[] = [];
    for (let i = 1; i <= rounds; i++) {
      for (const side of ['base', 'head'] as const) {
        console.log(`round ${i}/${rounds}: ${side} (${side === 'base' ? base : 'this checkout'})`);
        runs.push({ side, figures: await benchOnce(side === 'base' ? worktree : repoRoot, args, side) });
      }
    }
    const names = [...new Set(runs.flatMap((r) => [...r.figures.keys()]))];
    const rows = [['figure', `${base} runs`, 'head runs', `${base} median`, 'head median', 'change']];
    for (const name of names) {
      const unit = runs.find((r) => r.figures.has(name))!.figures.get(name)!.unit;
      const of = (side: 'base' | 'head') =>
        runs.filter((r) => r.side === side).map((r) => r.figures.get(name)?.value ?? Number.NaN);
      const [b, h] = [of('base'), of('head')];
      const [mb, mh] = [median(b), median(h)];
      rows.push([
        `${name} (${unit})`,
        b.map((v) => show(v, unit)).join(' '),
        h.map((v) => show(v, unit)).join(' '),
        show(mb, unit),
        show(mh, unit),
        Number.isFinite(mb) && Number.isFinite(mh) && mb !== 0
          ? `${(((mh - mb) / mb) * 100).toFixed(1)}%`
          : '',
      ]);
    }
    console.log('');
    table(rows, 1);
    return 0;
  } finally {
    await cleanup();
  }
}

runMain('bench:compare', main);

/**
 * Summarises a V8 .cpuprofile (from `node --cpu-prof`) as text: where the samples fall by
 * function (self and inclusive time) and by code area. Used by `bench/auth.ts --cpu-prof`, and on
 * its own: `node --import tsx bench/cpuprofile.ts <file.cpuprofile> [top]`.
 */
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { repoRoot } from './harness.ts';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

function shortUrl(url: string): string {
  if (!url) return '';
  if (url.startsWith('file://')) {
    try {
      return relative(repoRoot, fileURLToPath(url));
    } catch {
      return url;
    }
  }
  return url;
}

/** A coarse bucket for a frame: a package, a directory of ours, Node internals, or V8. */
function areaOf(node: ProfileNode): string {
  const url = shortUrl(node.callFrame.url);
  if (!url) return node.callFrame.functionName || '(native)';
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1];
  if (url.startsWith('node:')) return url.split('/').slice(0, 2).join('/');
  if (url.startsWith('src/') || url.startsWith('bench/')) return url.split('/').slice(0, -1).join('/');
  return url;
}

function frameName(node: ProfileNode): string {
  const { functionName, lineNumber, columnNumber } = node.callFrame;
  const url = shortUrl(node.callFrame.url);
  if (!url) return functionName || '(anonymous)';
  // tsx emits each module on one line, so for our .ts files only the column tells functions apart.
  const where = lineNumber === 0 ? `${url} col ${columnNumber}` : `${url}:${lineNumber + 1}`;
  return `${functionName || '(anonymous)'} ${where}`;
}

function table(title: string, totals: Map<string, number>, all: number, top: number): string[] {
  const rows = [...totals.entries()].sort((a, b) => b[1] - a[1]).slice(0, top);
  return [title, ...rows.map(([name, t]) => `  ${((100 * t) / all).toFixed(1).padStart(5)}%  ${name}`), ''];
}

export function summarizeProfile(path: string, top = 25): string[] {
  const profile = JSON.parse(readFileSync(path, 'utf8')) as Profile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

  const self = new Map<string, number>();
  const inclusive = new Map<string, number>();
  const areas = new Map<string, number>();
  let all = 0;
  // timeDeltas[i] is the time since the previous sample, so it is charged to sample i.
  profile.samples.forEach((id, i) => {
    const dt = profile.timeDeltas[i] ?? 0;
    const node = byId.get(id);
    if (!node || dt < 0) return;
    all += dt;
    self.set(frameName(node), (self.get(frameName(node)) ?? 0) + dt);
    areas.set(areaOf(node), (areas.get(areaOf(node)) ?? 0) + dt);
    // Each function once per sample, so recursion does not count a sample twice.
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const name = frameName(byId.get(cur)!);
      if (!seen.has(name)) {
        seen.add(name);
        inclusive.set(name, (inclusive.get(name) ?? 0) + dt);
      }
    }
  });
  if (all === 0) return [`${path}: no samples`];
  const idle = self.get('(idle)') ?? 0;
  return [
    `${path}: ${(all / 1e6).toFixed(1)} s sampled, ${((100 * idle) / all).toFixed(1)}% idle`,
    '',
    ...table('self time by area', areas, all, top),
    ...table('self time by function', self, all, top),
    ...table('inclusive time by function', inclusive, all, top),
  ];
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const file = process.argv[2];
  if (!file) {
    console.error('usage: node --import tsx bench/cpuprofile.ts <file.cpuprofile> [top]');
    process.exit(2);
  }
  console.log(summarizeProfile(file, Number(process.argv[3] ?? 25)).join('\n'));
}

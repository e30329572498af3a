/**
 * Role expansion timings (not run by CI): building the resolver and expanding typical clients.
 * Run: npm run bench:scopes
 */
import { type Role, RoleResolver } from '../src/platform/scopes/index.ts';

/** Best per-call wall time in ms over `rounds` rounds of `batch` calls: load only adds time. */
function bestMs(fn: () => unknown, rounds = 9, batch = 20): number {
  let best = Number.POSITIVE_INFINITY;
  for (let r = 0; r < rounds; r++) {
    const start = performance.now();
    for (let i = 0; i < batch; i++) fn();
    best = Math.min(best, (performance.now() - start) / batch);
  }
  return best;
}

/** N project roles leading to one shared role, plus a parameterized repo role. */
const projectRoles = (n: number): Role[] => [
  ...Array.from({ length: n }, (_, i) => ({
    roleId: `project:p${i}`,
    scopes: ['assume:everybody', `queue:create-task:highest:proj-${i}/*`, `secrets:get:project/p${i}/*`],
  })),
  { roleId: 'everybody', scopes: Array.from({ length: 50 }, (_, i) => `common:scope-${i}`) },
  { roleId: 'repo:github.com/*', scopes: ['assume:project:<..>', 'queue:route:index.gh.<..>.*'] },
];

const rows: Array<[string, number]> = [];
const measure = (name: string, ms: number) => rows.push([name, ms]);

const mixed: Role[] = Array.from({ length: 5000 }, (_, i) => ({
  roleId: `r:${i % 50}/${i}${i % 7 === 0 ? '*' : ''}`,
  scopes: [`assume:r:${(i * 7) % 50}/${i + 1}`, `x:${i}`, `y:${i}<..>z`],
}));
measure(
  'build a resolver over 5,000 roles',
  bestMs(() => new RoleResolver(mixed), 3, 1),
);

const roles = projectRoles(1000);
const client = roles.slice(0, 1000).map((r) => `assume:${r.roleId}`);
const resolver = new RoleResolver(roles);
resolver.expand(client);
measure(
  're-expand a client holding 1,000 roles (cached)',
  bestMs(() => resolver.expand(client)),
);
measure(
  'first expansion of a 1,000-role client',
  bestMs(() => new RoleResolver(roles).expand(client), 3, 1),
);

const chain: Role[] = Array.from({ length: 1000 }, (_, i) => ({
  roleId: `ch-${i}`,
  scopes: [`assume:ch-${i + 1}`, `queue:create-task:ch-${i}`],
}));
const chainResolver = new RoleResolver(chain);
measure(
  'expand a chain of 1,000 roles',
  bestMs(() => chainResolver.expand(['assume:ch-0', 'other:scope'])),
);
measure(
  'expand assume:* over 5,000 roles (fresh)',
  bestMs(() => new RoleResolver(projectRoles(5000)).expand(['assume:*']), 3, 1),
);

for (const [name, ms] of rows) console.log(`${name.padEnd(50)} ${ms.toFixed(3).padStart(10)} ms`);

/**
 * Builds the auth benchmark's world through the public API with the official client, as a
 * deployment would: `roleCount` roles `bench-role-NNNN` and a client `bench/client` that holds
 * nothing itself but `assume:bench-team`, so every scope it has comes through roles.
 *
 *   bench/client ── assume:bench-team
 *   bench-team ──── assume:bench-role-*        (a star scope: reaches every bench-role-NNNN)
 *               └── assume:bench-project-a ── assume:bench-project-b ── assume:bench-project-c
 *   bench-project-c holds the scopes the benchmarked endpoints require, so authorizing each
 *   request depends on a three-role chain; and inside bench-role-*, roles NNN0 and NNN1 assume
 *   the next role, giving a hundred more short chains (NNN0 → NNN1 → NNN2).
 */
import taskcluster from 'taskcluster-client';

export const BENCH_CLIENT_ID = 'bench/client';

export const roleId = (i: number) => `bench-role-${String(i).padStart(4, '0')}`;

/** The scopes the benchmarked endpoints require, granted at the end of the role chain. */
export const REQUIRED_SCOPES = [
  'auth:current-scopes',
  `auth:get-client:${BENCH_CLIENT_ID}`,
  'auth:get-role:bench-role-*',
];

export interface Credentials {
  clientId: string;
  accessToken: string;
}

export interface BenchWorld {
  client: Credentials;
  /** How many scopes `currentScopes` reports for the client, once expanded. */
  expandedScopeCount: number;
  setupSeconds: number;
}

function roleScopes(i: number, roleCount: number): string[] {
  const scopes = [`bench:resource:${i}:read`, `bench:resource:${i}:write`];
  if (i % 10 < 2 && i + 1 < roleCount) scopes.push(`assume:${roleId(i + 1)}`);
  return scopes;
}

/** Runs `task(i)` for i in [0, n) with at most `width` running at once. */
async function pool(n: number, width: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < n) await task(next++);
  };
  await Promise.all(Array.from({ length: Math.min(width, n) }, lane));
}

export async function buildWorld(
  rootUrl: string,
  root: Credentials,
  roleCount: number,
  log: (line: string) => void,
): Promise<BenchWorld> {
  const started = Date.now();
  // retries: 0, so that a failing call shows the server's first answer instead of a retry storm.
  const auth = new taskcluster.Auth({ rootUrl, credentials: root, retries: 0 });
  const createRole = (id: string, scopes: string[]) =>
    auth.createRole(id, { description: 'auth benchmark', scopes });

  // Role writes are serialised by a table lock on the server; a few in flight hide the round trips.
  let done = 0;
  await pool(roleCount, 8, async (i) => {
    await createRole(roleId(i), roleScopes(i, roleCount));
    if (++done % 250 === 0) log(`  ${done}/${roleCount} roles`);
  });
  await createRole('bench-project-c', [...REQUIRED_SCOPES, 'bench:project:c']);
  await createRole('bench-project-b', ['assume:bench-project-c', 'bench:project:b']);
  await createRole('bench-project-a', ['assume:bench-project-b', 'bench:project:a']);
  await createRole('bench-team', ['assume:bench-role-*', 'assume:bench-project-a']);
  const created = await auth.createClient(BENCH_CLIENT_ID, {
    expires: new Date(Date.now() + 24 * 3600_000).toJSON(),
    description: 'auth benchmark load client',
    scopes: ['assume:bench-team'],
  });
  const client = { clientId: BENCH_CLIENT_ID, accessToken: created.accessToken as string };

  // Check what the server says the client holds, signed as the client itself.
  const asClient = new taskcluster.Auth({ rootUrl, credentials: client, retries: 0 });
  const { scopes } = (await asClient.currentScopes()) as { scopes: string[] };
  const expected = [...REQUIRED_SCOPES, `bench:resource:${roleCount - 1}:write`, 'bench:project:a'];
  const missing = expected.filter((s) => !scopes.includes(s));
  if (missing.length > 0) {
    throw new Error(`bench/client lacks scopes it should reach through roles: ${missing.join(', ')}`);
  }
  const minimum = 2 * roleCount;
  if (scopes.length <= minimum) {
    throw new Error(`bench/client has ${scopes.length} scopes through roles; expected more than ${minimum}`);
  }
  return { client, expandedScopeCount: scopes.length, setupSeconds: (Date.now() - started) / 1000 };
}

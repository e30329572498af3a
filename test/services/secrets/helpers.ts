import Hawk from 'hawk';
import taskcluster from 'taskcluster-client';
import type { Credentials } from '../../helpers/clients.ts';
import type { TestTaskyard } from '../../helpers/taskyard.ts';

// biome-ignore lint/suspicious/noExplicitAny: the official client is untyped
type Untyped = any;

/** An official-client Secrets object for this Taskyard (no retries). */
export function secretsClient(ty: TestTaskyard, credentials: Credentials | undefined = ty.root): Untyped {
  return new taskcluster.Secrets({ rootUrl: ty.rootUrl, credentials, retries: 0 });
}

/** A date `ms` after the Taskyard's clock, as JSON. */
export const fromClock = (ty: TestTaskyard, ms: number): string =>
  new Date(ty.clock.now.getTime() + ms).toJSON();

/** Sends a raw request to the secrets API signed as root, as a hand-written tool would. */
export async function sendRaw(
  ty: TestTaskyard,
  method: string,
  path: string,
  body?: string,
): Promise<{ status: number; text: string; json: Untyped }> {
  const url = `${ty.rootUrl}/api/secrets/v1${path}`;
  const { header } = Hawk.client.header(url, method, {
    credentials: { id: ty.root.clientId, key: ty.root.accessToken, algorithm: 'sha256' },
  });
  const res = await fetch(url, {
    method,
    headers: { authorization: header, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    body,
  });
  const text = await res.text();
  return { status: res.status, text, json: text ? JSON.parse(text) : undefined };
}

/** How many secrets rows the database holds (expired ones included). */
export async function secretCount(ty: TestTaskyard): Promise<number> {
  const res = await ty.testDb.db.query<{ n: string }>('select count(*) as n from secrets');
  return Number(res.rows[0].n);
}

import taskcluster from 'taskcluster-client';
import type { TestTaskyard } from './taskyard.ts';

export interface Credentials {
  clientId: string;
  accessToken: string;
  certificate?: string;
}

/** An official-client Auth object for this Taskyard (no retries: tests want the first answer). */
// biome-ignore lint/suspicious/noExplicitAny: the official client is untyped
type Untyped = any;

export function authClient(
  ty: TestTaskyard,
  credentials?: Credentials,
  extra: Record<string, unknown> = {},
): Untyped {
  return new taskcluster.Auth({ rootUrl: ty.rootUrl, credentials, retries: 0, ...extra });
}

export const inAnHour = () => new Date(Date.now() + 3600_000).toJSON();

/** Creates a client with these scopes (as root) and returns its credentials. */
export async function makeClient(ty: TestTaskyard, clientId: string, scopes: string[]): Promise<Credentials> {
  const res = await authClient(ty, ty.root).createClient(clientId, {
    expires: inAnHour(),
    description: `test client ${clientId}`,
    scopes,
  });
  return { clientId, accessToken: res.accessToken };
}

export interface ClientError {
  statusCode: number;
  code: string;
  message: string;
  body: Untyped;
}

/** The error a promise rejects with (fails the test when it resolves). */
export async function rejection(p: Promise<unknown>): Promise<ClientError> {
  try {
    await p;
  } catch (err) {
    return err as ClientError;
  }
  throw new Error('expected the call to fail, but it succeeded');
}

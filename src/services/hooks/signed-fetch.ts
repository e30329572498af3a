/** HTTP calls to other Taskyard services, Hawk-signed with the hooks service's static client. */
import hawk from 'hawk';
import type { HooksContext } from './fire.ts';

export const HOOKS_CLIENT_ID = 'static/taskcluster/hooks';

export interface SignedResponse {
  status: number;
  /** The `message` of an error body, or the raw text. */
  message: string;
}

/**
 * Sends `body` as JSON to `<rootUrl>/api/<path>`; with `authorizedScopes` the request carries only
 * those scopes. Network errors reject; HTTP errors resolve with their status.
 */
export async function signedRequest(
  ctx: HooksContext,
  method: 'PUT' | 'POST',
  path: string,
  body: unknown,
  authorizedScopes?: string[],
): Promise<SignedResponse> {
  const client = ctx.config.staticClients.find((c) => c.clientId === HOOKS_CLIENT_ID);
  if (!client) throw new Error(`the hooks service needs the static client ${HOOKS_CLIENT_ID}`);
  const url = `${ctx.rootUrl()}/api/${path}`;
  const ext = authorizedScopes
    ? Buffer.from(JSON.stringify({ authorizedScopes })).toString('base64')
    : undefined;
  const { header } = hawk.client.header(url, method, {
    credentials: { id: client.clientId, key: client.accessToken, algorithm: 'sha256' },
    ...(ext ? { ext } : {}),
    // Signed with the service's clock, which the receiving service checks against its own.
    timestamp: Math.floor(ctx.now().getTime() / 1000),
  });
  const res = await fetch(url, {
    method,
    headers: { authorization: header, 'content-type': 'application/json' },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
  const text = await res.text();
  let message = text;
  try {
    message = (JSON.parse(text) as { message?: string }).message ?? text;
  } catch {}
  return { status: res.status, message };
}

/** A queue or notify call that takes longer than this counts as failed (and transient). */
export const REQUEST_TIMEOUT_MS = 30_000;

import type { AuthenticationInput, AuthenticationResult, Authenticator } from '../../platform/api/types.ts';

/**
 * For services running in a process without the auth service: asks auth's `authenticateHawk`
 * over HTTP. A failure to reach auth is an error (500), never an anonymous request.
 */
export class RemoteAuthenticator implements Authenticator {
  constructor(private readonly authBaseUrl: string) {}

  async authenticate(input: AuthenticationInput): Promise<AuthenticationResult> {
    const res = await fetch(`${this.authBaseUrl.replace(/\/+$/, '')}/api/auth/v1/authenticate-hawk`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(input),
      signal: AbortSignal.timeout(10_000),
    });
    if (!res.ok) throw new Error(`the auth service answered ${res.status} to authenticateHawk`);
    const body = (await res.json()) as AuthenticationResult & { expires?: string };
    if (body.status === 'auth-failed') return body;
    return { ...body, expires: new Date(body.expires as unknown as string) } as AuthenticationResult;
  }
}

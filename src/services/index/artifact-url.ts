/**
 * Where findArtifactFromTask redirects: the queue's getLatestArtifact URL of the indexed task.
 * As upstream, a public artifact (one the `anonymous` role may read) gets the plain URL, and any
 * other a URL signed (bewit, 15 minutes) with the index's own credentials, so the caller, who
 * has just shown `queue:get-artifact:<name>` here, can follow the redirect without signing it.
 */
import Hawk from 'hawk';
import type { Logger } from 'pino';
import type { Config } from '../../platform/config.ts';
import { satisfiesExpression } from '../../platform/scopes/index.ts';

/** The static clients the index signs with, the first one configured (the queue's holds `*`). */
export const SIGNING_CLIENT_IDS = ['static/taskcluster/index', 'static/taskcluster/queue'];

/** How long a signed redirect works. */
const SIGNED_URL_TTL_SEC = 15 * 60;

/** How long the `anonymous` role's scopes are trusted before they are asked for again. */
const ANONYMOUS_SCOPES_TTL_MS = 5 * 60 * 1000;

export interface ArtifactUrlOptions {
  config: Config;
  logger: Logger;
  now: () => Date;
}

export class ArtifactUrls {
  private anonymous: { scopes: string[]; at: number } | undefined;
  private readonly credentials: { clientId: string; accessToken: string } | undefined;

  constructor(private readonly opts: ArtifactUrlOptions) {
    this.credentials = SIGNING_CLIENT_IDS.map((id) =>
      opts.config.staticClients.find((c) => c.clientId === id),
    ).find((c) => c !== undefined);
  }

  /**
   * The URL to redirect to. `anonymousRequest`: the caller is not authenticated, so its scopes
   * (which passed the check) are the anonymous role's and the artifact is public.
   */
  async redirectUrl(args: {
    rootUrl: string;
    taskId: string;
    name: string;
    anonymousRequest: boolean;
  }): Promise<string> {
    const url = `${args.rootUrl}/api/queue/v1/task/${encodeURIComponent(args.taskId)}/artifacts/${encodeURIComponent(args.name)}`;
    if (args.anonymousRequest || !this.credentials) return url;
    if (await this.isPublic(args.rootUrl, args.name)) return url;
    const getBewit = Hawk.client.getBewit as (
      uri: string,
      options: {
        credentials: { id: string; key: string; algorithm: 'sha256' };
        ttlSec: number;
        localtimeOffsetMsec: number;
      },
    ) => string;
    const bewit = getBewit(url, {
      credentials: { id: this.credentials.clientId, key: this.credentials.accessToken, algorithm: 'sha256' },
      ttlSec: SIGNED_URL_TTL_SEC,
      // Signed on the service's clock, the one the queue checks it with.
      localtimeOffsetMsec: this.opts.now().getTime() - Date.now(),
    });
    return `${url}?bewit=${encodeURIComponent(bewit)}`;
  }

  /** Whether the `anonymous` role may read the artifact; false when that cannot be found out. */
  private async isPublic(rootUrl: string, name: string): Promise<boolean> {
    const scopes = await this.anonymousScopes(rootUrl);
    return scopes !== undefined && satisfiesExpression(scopes, `queue:get-artifact:${name}`);
  }

  /** The anonymous role's expanded scopes: what auth answers for a request without credentials. */
  private async anonymousScopes(rootUrl: string): Promise<string[] | undefined> {
    const now = Date.now();
    if (this.anonymous && now - this.anonymous.at < ANONYMOUS_SCOPES_TTL_MS) return this.anonymous.scopes;
    const base = (this.opts.config.authUrl ?? rootUrl).replace(/\/+$/, '');
    try {
      const origin = new URL(rootUrl);
      const port = Number(origin.port || (origin.protocol === 'https:' ? 443 : 80));
      const res = await fetch(`${base}/api/auth/v1/authenticate-hawk`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ method: 'get', resource: '/', host: origin.hostname, port }),
        signal: AbortSignal.timeout(10_000),
      });
      if (!res.ok) throw new Error(`the auth service answered ${res.status} to authenticateHawk`);
      const body = (await res.json()) as { status?: string; scopes?: unknown };
      if (body.status !== 'no-auth' || !Array.isArray(body.scopes)) {
        throw new Error(`unexpected answer from authenticateHawk: ${JSON.stringify(body.status)}`);
      }
      const scopes = body.scopes.filter((s): s is string => typeof s === 'string');
      this.anonymous = { scopes, at: now };
      return scopes;
    } catch (err) {
      this.opts.logger.warn({ err }, 'could not learn the anonymous scopes; signing the artifact URL');
      return undefined;
    }
  }
}

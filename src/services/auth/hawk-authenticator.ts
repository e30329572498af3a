import Hawk from 'hawk';
import type { AuthenticationInput, AuthenticationResult, Authenticator } from '../../platform/api/types.ts';
import {
  isValidScope,
  LruCache,
  mergeScopeSets,
  normalizeScopeSet,
  satisfiesExpression,
} from '../../platform/scopes/index.ts';
import {
  CredentialError,
  checkCertificateShape,
  checkIssuerScopes,
  verifyCertificate,
} from './certificate.ts';
import type { NonceCache } from './nonce-cache.ts';

/** A client as authentication needs it: its token and its already-expanded scopes. */
export interface ClientCredentials {
  clientId: string;
  accessToken: string;
  expandedScopes: string[];
  expires: Date;
  disabled: boolean;
}

export interface ClientSource {
  get(clientId: string): Promise<ClientCredentials | undefined>;
}

export interface HawkAuthenticatorOptions {
  clients: ClientSource;
  /** Role expansion of a scope set (identity for the test clients). */
  expand: (scopes: string[]) => string[];
  now?: () => number;
  nonces?: NonceCache;
  /** Called once a client has authenticated, to record lastDateUsed. */
  onUsed?: (clientId: string) => void;
}

/** Hawk allows this much clock difference between client and server. */
export const TIMESTAMP_SKEW_SEC = 15 * 60;
const ANONYMOUS = ['assume:anonymous'];

interface ResolvedCredentials {
  id: string;
  key: string;
  algorithm: 'sha256';
  clientId: string;
  /** The credentials' scopes expanded, with the anonymous role's: what a request may do. */
  scopes: string[];
  expires: Date;
}

interface Ext {
  certificate?: unknown;
  authorizedScopes?: unknown;
}

function parseExt(ext: string | undefined): Ext {
  if (!ext) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(ext, 'base64').toString('utf8'));
  } catch {
    throw new CredentialError('Failed to parse ext: it must be base64-encoded JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new CredentialError('Failed to parse ext: it must encode a JSON object');
  }
  return parsed as Ext;
}

/** The fields of a bewit (`id\exp\mac\ext`, base64url) without verifying it. */
function bewitExt(resource: string): string | undefined {
  const match = /[?&]bewit=([^&]*)/.exec(resource);
  if (!match) return undefined;
  const parts = Buffer.from(decodeURIComponent(match[1]), 'base64url').toString('utf8').split('\\');
  return parts.length === 4 ? parts[3] : undefined;
}

function describeHawkError(err: unknown): string {
  if (err instanceof CredentialError) return err.message;
  const boom = err as { isBoom?: boolean; output?: { payload?: { error?: string } }; message?: string };
  if (boom?.isBoom && boom.output?.payload?.error) return `${boom.output.payload.error}: ${boom.message}`;
  return (err as Error)?.message ?? String(err);
}

/** Authenticates requests signed with Hawk headers or bewits, including temporary credentials. */
export class HawkAuthenticator implements Authenticator {
  private readonly now: () => number;
  /**
   * Expansions are the costly part of a request for clients holding thousands of scopes, so
   * they are kept per credentials object: AuthState replaces the object whenever the client or
   * any role changes, which drops the entry with it.
   */
  private readonly clientScopes = new WeakMap<ClientCredentials, string[]>();
  /** Per issuer and certificate signature (a valid signature pins the certificate's scopes). */
  private readonly certificateScopes = new LruCache<string, { issuer: ClientCredentials; scopes: string[] }>(
    10_000,
  );

  constructor(private readonly opts: HawkAuthenticatorOptions) {
    this.now = opts.now ?? Date.now;
  }

  async authenticate(input: AuthenticationInput): Promise<AuthenticationResult> {
    const hasBewit = /^\/.*[?&]bewit=/.test(input.resource);
    if (!input.authorization && !hasBewit) {
      return {
        status: 'no-auth',
        scheme: 'none',
        scopes: this.opts.expand(ANONYMOUS),
        expires: new Date(this.now() + TIMESTAMP_SKEW_SEC * 1000),
      };
    }
    if (input.authorization && hasBewit) {
      return {
        status: 'auth-failed',
        message:
          'Cannot use two authentication schemes at once: this request has both a bewit and an Authorization header',
      };
    }
    try {
      return await this.verify(input, hasBewit);
    } catch (err) {
      return { status: 'auth-failed', message: describeHawkError(err) };
    }
  }

  private async verify(input: AuthenticationInput, isBewit: boolean): Promise<AuthenticationResult> {
    let ext: Ext;
    if (isBewit) {
      ext = parseExt(bewitExt(input.resource));
    } else {
      const attrs = Hawk.utils.parseAuthorizationHeader(input.authorization!) as { ext?: string };
      ext = parseExt(attrs.ext);
    }
    let resolved: ResolvedCredentials | undefined;
    const credentialsFunc = async (id: string) => {
      resolved = await this.resolve(id, ext);
      return resolved;
    };
    const request = {
      method: input.method.toUpperCase(),
      url: input.resource,
      headers: { host: `${input.host}:${input.port}`, authorization: input.authorization },
    };
    const options = {
      host: input.host,
      port: input.port,
      timestampSkewSec: TIMESTAMP_SKEW_SEC,
      localtimeOffsetMsec: this.now() - Date.now(),
    };
    let hash: string | undefined;
    if (isBewit) {
      await Hawk.server.authenticateBewit(request, credentialsFunc, options);
    } else {
      const nonces = this.opts.nonces;
      const { artifacts } = await Hawk.server.authenticate(request, credentialsFunc, {
        ...options,
        nonceFunc: nonces
          ? async (key: string, nonce: string, ts: number) => {
              if (!nonces.check(resolved?.id ?? key, nonce, ts, this.now() / 1000)) {
                throw new Error('replayed nonce');
              }
            }
          : undefined,
      });
      hash = artifacts.hash;
    }
    const creds = resolved!;
    let scopes = creds.scopes;
    if (ext.authorizedScopes !== undefined) {
      const authorized = ext.authorizedScopes;
      if (!Array.isArray(authorized)) throw new CredentialError('ext.authorizedScopes must be an array');
      if (!authorized.every(isValidScope)) {
        throw new CredentialError('ext.authorizedScopes must be an array of valid scopes');
      }
      const lacking = authorized.filter((s: string) => !satisfiesExpression(scopes, s));
      if (lacking.length > 0) {
        throw new CredentialError(
          `Supplied credentials do not satisfy authorizedScopes; they lack: ${lacking.join(', ')}`,
        );
      }
      scopes = this.withAnonymous(authorized as string[]);
    }
    this.opts.onUsed?.(creds.clientId);
    return {
      status: 'auth-success',
      scheme: 'hawk',
      clientId: creds.clientId,
      scopes,
      expires: creds.expires,
      ...(hash ? { hash } : {}),
    };
  }

  /** What holding `scopes` (and, like every request, `assume:anonymous`) amounts to. */
  private withAnonymous(scopes: readonly string[]): string[] {
    return this.opts.expand(mergeScopeSets(normalizeScopeSet(scopes), ANONYMOUS));
  }

  /** Finds the Hawk key for `id`: the client's own token, or one derived from a certificate. */
  private async resolve(id: string, ext: Ext): Promise<ResolvedCredentials> {
    const now = this.now();
    if (ext.certificate === undefined) {
      const client = await this.usableClient(id, now);
      let scopes = this.clientScopes.get(client);
      if (!scopes) {
        scopes = this.withAnonymous(client.expandedScopes);
        this.clientScopes.set(client, scopes);
      }
      return {
        id,
        key: client.accessToken,
        algorithm: 'sha256',
        clientId: id,
        scopes,
        expires: client.expires,
      };
    }
    const rawIssuer = (ext.certificate as { issuer?: unknown } | null)?.issuer;
    if (rawIssuer !== undefined) {
      if (typeof rawIssuer !== 'string') throw new CredentialError('ext.certificate.issuer must be a string');
      if (rawIssuer === id) {
        throw new CredentialError('ext.certificate.issuer must differ from the supplied clientId');
      }
    } else if ((ext.certificate as { clientId?: unknown } | null)?.clientId !== undefined) {
      throw new CredentialError('ext.certificate.clientId must only be used with ext.certificate.issuer');
    }
    const cert = checkCertificateShape(ext.certificate, now);
    const issuerId = cert.issuer ?? id;
    const issuer = await this.usableClient(issuerId, now);
    const key = verifyCertificate(cert, id, issuer.accessToken);
    const cacheKey = `${id}\n${cert.signature}`;
    let cached = this.certificateScopes.get(cacheKey);
    if (cached?.issuer !== issuer) {
      checkIssuerScopes(cert, id, issuerId, issuer.expandedScopes);
      cached = { issuer, scopes: this.withAnonymous(cert.scopes) };
      this.certificateScopes.set(cacheKey, cached);
    }
    const expires = new Date(Math.min(cert.expiry, issuer.expires.getTime()));
    return { id, key, algorithm: 'sha256', clientId: id, scopes: cached.scopes, expires };
  }

  private async usableClient(clientId: string, now: number): Promise<ClientCredentials> {
    const client = await this.opts.clients.get(clientId);
    if (!client) throw new CredentialError(`Client with clientId '${clientId}' not found`);
    if (client.disabled) throw new CredentialError(`Client with clientId '${clientId}' is disabled`);
    if (client.expires.getTime() < now)
      throw new CredentialError(`Client with clientId '${clientId}' has expired`);
    return client;
  }
}

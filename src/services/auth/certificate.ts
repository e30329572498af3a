import { createHmac, timingSafeEqual } from 'node:crypto';
import slugid from 'slugid';
import { isValidScope, satisfiesExpression } from '../../platform/scopes/index.ts';

/** Leeway on certificate start and expiry, for clock differences between issuer and server. */
const CERT_SKEW_MS = 5 * 60 * 1000;
const MAX_CERT_LIFETIME_MS = 31 * 24 * 60 * 60 * 1000;

export interface Certificate {
  version: 1;
  scopes: string[];
  start: number;
  expiry: number;
  seed: string;
  signature: string;
  issuer?: string;
}

export class CredentialError extends Error {
  override name = 'CredentialError';
}

/** Checks the shape and dates of `ext.certificate`; throws CredentialError naming the problem. */
export function checkCertificateShape(cert: unknown, now: number): Certificate {
  if (typeof cert !== 'object' || cert === null || Array.isArray(cert)) {
    throw new CredentialError('ext.certificate must be a JSON object');
  }
  const c = cert as Record<string, unknown>;
  if (c.version !== 1) throw new CredentialError('ext.certificate.version must be 1');
  if (typeof c.seed !== 'string') throw new CredentialError('ext.certificate.seed must be a string');
  if (c.seed.length !== 44) throw new CredentialError('ext.certificate.seed must be 44 characters');
  if (typeof c.start !== 'number') throw new CredentialError('ext.certificate.start must be a number');
  if (typeof c.expiry !== 'number') throw new CredentialError('ext.certificate.expiry must be a number');
  if (!Array.isArray(c.scopes)) throw new CredentialError('ext.certificate.scopes must be an array');
  if (!c.scopes.every(isValidScope)) {
    throw new CredentialError('ext.certificate.scopes must be an array of valid scopes');
  }
  if (typeof c.signature !== 'string')
    throw new CredentialError('ext.certificate.signature must be a string');
  if (c.issuer !== undefined && typeof c.issuer !== 'string') {
    throw new CredentialError('ext.certificate.issuer must be a string');
  }
  if (c.start > now + CERT_SKEW_MS) throw new CredentialError('ext.certificate.start is in the future');
  if (c.expiry < now - CERT_SKEW_MS)
    throw new CredentialError(
      'ext.certificate.expiry is in the past: the temporary credentials have expired',
    );
  if (c.expiry - c.start > MAX_CERT_LIFETIME_MS) {
    throw new CredentialError('ext.certificate cannot last longer than 31 days');
  }
  return c as unknown as Certificate;
}

/**
 * The text the issuer signs, exactly as the official clients build it: `version`, then
 * `clientId` and `issuer` for named credentials, `seed`, `start`, `expiry`, `scopes:` and one
 * line per scope (the clients put a newline after `scopes:` even when there are none).
 */
function signedText(cert: Certificate, credentialName: string): string {
  const lines = [`version:${cert.version}`];
  if (cert.issuer !== undefined) lines.push(`clientId:${credentialName}`, `issuer:${cert.issuer}`);
  lines.push(`seed:${cert.seed}`, `start:${cert.start}`, `expiry:${cert.expiry}`, 'scopes:');
  return `${lines.join('\n')}\n${cert.scopes.join('\n')}`;
}

/**
 * Checks that the issuer may issue this certificate: its expanded scopes cover the
 * certificate's, and it may create the clientId of named credentials.
 */
export function checkIssuerScopes(
  cert: Certificate,
  credentialName: string,
  issuerId: string,
  issuerScopes: string[],
) {
  if (
    cert.issuer !== undefined &&
    !satisfiesExpression(issuerScopes, `auth:create-client:${credentialName}`)
  ) {
    throw new CredentialError(
      `ext.certificate issuer ${issuerId} lacks auth:create-client:${credentialName}, needed to name temporary credentials ${credentialName}`,
    );
  }
  const missing = cert.scopes.filter((s) => !satisfiesExpression(issuerScopes, s));
  if (missing.length > 0) {
    throw new CredentialError(
      `ext.certificate issuer ${issuerId} does not hold the certificate scopes ${missing.join(', ')}`,
    );
  }
}

/** The temporary access token (Hawk key) a certificate's seed derives from its issuer's token. */
function temporaryAccessToken(issuerAccessToken: string, seed: string): string {
  return createHmac('sha256', issuerAccessToken)
    .update(seed)
    .digest('base64')
    .replace(/\+/g, '-')
    .replace(/\//g, '_')
    .replace(/=/g, '');
}

/**
 * Issues temporary credentials as the official clients' createTemporaryCredentials does: named
 * (with `credentialName`, which needs `auth:create-client:<name>` on the issuer) or not.
 */
export function issueTemporaryCredentials(opts: {
  issuer: { clientId: string; accessToken: string };
  credentialName?: string;
  scopes: string[];
  start: Date;
  expiry: Date;
}): { clientId: string; accessToken: string; certificate: string } {
  const cert: Certificate = {
    version: 1,
    scopes: opts.scopes,
    start: opts.start.getTime(),
    expiry: opts.expiry.getTime(),
    seed: slugid.v4() + slugid.v4(),
    signature: '',
    ...(opts.credentialName ? { issuer: opts.issuer.clientId } : {}),
  };
  const clientId = opts.credentialName ?? opts.issuer.clientId;
  cert.signature = createHmac('sha256', opts.issuer.accessToken)
    .update(signedText(cert, clientId))
    .digest('base64');
  return {
    clientId,
    accessToken: temporaryAccessToken(opts.issuer.accessToken, cert.seed),
    certificate: JSON.stringify(cert),
  };
}

/** Verifies the certificate's signature and returns the temporary access token (the Hawk key). */
export function verifyCertificate(
  cert: Certificate,
  credentialName: string,
  issuerAccessToken: string,
): string {
  const expected = createHmac('sha256', issuerAccessToken).update(signedText(cert, credentialName)).digest();
  const given = Buffer.from(cert.signature, 'base64');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    throw new CredentialError(
      cert.issuer !== undefined
        ? 'ext.certificate.signature is not valid, or the clientId does not match the certificate'
        : 'ext.certificate.signature is not valid',
    );
  }
  return temporaryAccessToken(issuerAccessToken, cert.seed);
}

import type { FastifyRequest } from 'fastify';

/**
 * The host and port the client addressed, which Hawk signs. Behind a TLS-terminating proxy the
 * socket sees another port, so `x-forwarded-*` is honoured, but only when the deployment says a
 * proxy is trusted: otherwise any client could claim another origin.
 */
export function requestOrigin(request: FastifyRequest, trustProxy: boolean): { host: string; port: number } {
  const header = (name: string): string | undefined => {
    const v = request.headers[name];
    return (Array.isArray(v) ? v[0] : v)?.split(',')[0]?.trim() || undefined;
  };
  const hostHeader = (trustProxy && header('x-forwarded-host')) || header('host') || 'localhost';
  const proto =
    (trustProxy && header('x-forwarded-proto')) || (request.protocol === 'https' ? 'https' : 'http');
  const { host, port } = splitHost(hostHeader);
  const forwardedPort = trustProxy ? header('x-forwarded-port') : undefined;
  if (forwardedPort && /^\d+$/.test(forwardedPort)) return { host, port: Number(forwardedPort) };
  if (port !== undefined) return { host, port };
  return { host, port: proto === 'https' ? 443 : 80 };
}

function splitHost(value: string): { host: string; port?: number } {
  // IPv6 literal: [::1]:8080
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(value);
  if (v6) return { host: v6[1], port: v6[2] ? Number(v6[2]) : undefined };
  const i = value.lastIndexOf(':');
  if (i > 0 && /^\d+$/.test(value.slice(i + 1)))
    return { host: value.slice(0, i), port: Number(value.slice(i + 1)) };
  return { host: value };
}

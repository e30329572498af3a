// The parts of the `hawk` package Taskyard uses (it ships no types).
declare module 'hawk' {
  interface Credentials {
    id?: string;
    key: string;
    algorithm: 'sha256' | 'sha1';
  }
  type CredentialsFunc = (id: string) => Promise<Credentials | undefined>;
  interface RequestLike {
    method: string;
    url: string;
    headers: Record<string, string | undefined>;
  }
  interface ServerOptions {
    host?: string;
    port?: number;
    timestampSkewSec?: number;
    localtimeOffsetMsec?: number;
    nonceFunc?: (key: string, nonce: string, ts: number) => Promise<void>;
  }
  interface Artifacts {
    hash?: string;
    ext?: string;
    [key: string]: unknown;
  }
  const Hawk: {
    server: {
      authenticate(
        req: RequestLike,
        credentialsFunc: CredentialsFunc,
        options: ServerOptions,
      ): Promise<{ credentials: Credentials; artifacts: Artifacts }>;
      authenticateBewit(
        req: RequestLike,
        credentialsFunc: CredentialsFunc,
        options: ServerOptions,
      ): Promise<{ credentials: Credentials; attributes: Artifacts }>;
    };
    client: {
      header(
        uri: string,
        method: string,
        options: { credentials: Credentials; ext?: string; timestamp?: number; nonce?: string },
      ): { header: string };
      getBewit(uri: string, options: { credentials: Credentials; ttlSec: number; ext?: string }): string;
    };
    utils: {
      parseAuthorizationHeader(header: string): Record<string, string>;
    };
  };
  export default Hawk;
}

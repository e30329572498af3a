/** What every user-facing command shares: `--json`, `--data-dir`, the API, and error handling. */
import type { Command } from 'commander';
import { Api, resolveConnection } from './connection.ts';

export interface CommonOptions {
  json?: boolean;
  dataDir?: string;
}

export function withCommon(cmd: Command): Command {
  return cmd
    .option('--json', 'print JSON for machines')
    .option(
      '-d, --data-dir <dir>',
      'the `taskyard up` data directory whose credentials.json to use',
      undefined,
    );
}

/**
 * An action that gets the API of the deployment first. Commander passes the positional
 * arguments, then the options, then the command.
 */
// biome-ignore lint/suspicious/noExplicitAny: positional arguments differ per command
export function withApi<A extends any[]>(fn: (api: Api, ...args: A) => Promise<void>) {
  // biome-ignore lint/suspicious/noExplicitAny: as above
  return async (...args: any[]) => {
    const positional = args.slice(0, -1);
    const opts = positional[positional.length - 1] as CommonOptions;
    const api = new Api(resolveConnection({ dataDir: opts.dataDir }));
    await fn(api, ...(positional as A));
  };
}

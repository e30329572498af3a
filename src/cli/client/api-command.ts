/**
 * `taskyard api <service> <method> [args...]`: any endpoint of any service, driven by the
 * references the deployment serves. Without a method it lists the methods; without a service,
 * the services.
 */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { UserError } from '../fail.ts';
import { type CommonOptions, withApi, withCommon } from './common.ts';
import { type Api, type ReferenceEntry, responseError } from './connection.ts';
import { print, printJson, table } from './output.ts';

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** `--input` as JSON text, `@file`, or `-` (stdin). */
function readInput(input: string): unknown {
  let text = input;
  let where = 'the --input value';
  if (input === '-') {
    text = readFileSync(0, 'utf8');
    where = 'stdin';
  } else if (input.startsWith('@')) {
    try {
      text = readFileSync(input.slice(1), 'utf8');
    } catch (err) {
      throw new UserError(
        `cannot read ${input.slice(1)}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
      );
    }
    where = input.slice(1);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new UserError(`${where} is not valid JSON: ${(err as Error).message}`);
  }
}

function parseQuery(pairs: string[], entry: ReferenceEntry): Record<string, string> {
  const query: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new UserError(`--query takes key=value, not ${JSON.stringify(pair)}`);
    const key = pair.slice(0, eq);
    if (!(entry.query ?? []).includes(key)) {
      const known = entry.query?.length ? entry.query.join(', ') : 'none';
      throw new UserError(`${entry.name} has no query parameter ${JSON.stringify(key)} (it takes: ${known})`);
    }
    query[key] = pair.slice(eq + 1);
  }
  return query;
}

const usage = (e: ReferenceEntry) => [e.name, ...e.args.map((a) => `<${a}>`)].join(' ');

export function registerApiCommand(program: Command): void {
  withCommon(program.command('api [service] [method] [args...]'))
    .description('call any API method of any service (lists services, or methods, when not given)')
    .option('-i, --input <json>', 'request body: JSON text, @file, or - for stdin')
    .option('-q, --query <key=value>', 'a query-string parameter (repeatable)', collect, [])
    .action(
      withApi(
        async (
          api,
          service: string | undefined,
          method: string | undefined,
          args: string[],
          opts: CommonOptions & { input?: string; query: string[] },
        ) => {
          if (!service) {
            const services = await api.services();
            if (opts.json) return printJson({ services });
            print(services.join('\n'));
            return;
          }
          const reference = await api.reference(service);
          const entries = reference.entries.filter((e) => e.type === 'function');
          if (!method) {
            if (opts.json) return printJson({ service, methods: entries });
            print(
              table(
                ['METHOD', 'HTTP', 'TITLE'],
                entries.map((e) => [usage(e), e.method.toUpperCase(), e.title ?? '']),
              ),
            );
            return;
          }
          const entry = entries.find((e) => e.name === method);
          if (!entry) {
            throw new UserError(
              `the ${service} service has no method ${JSON.stringify(method)}; \`taskyard api ${service}\` lists them`,
            );
          }
          if (args.length !== entry.args.length) {
            throw new UserError(
              `${service} ${method} takes ${entry.args.length} argument(s): ${usage(entry)}`,
            );
          }
          const query = parseQuery(opts.query, entry);
          const hasQuery = Object.keys(query).length > 0;
          if (entry.input && opts.input === undefined) {
            throw new UserError(
              `${service} ${method} needs a request body: --input '<json>', --input @file or --input -`,
            );
          }
          if (!entry.input && opts.input !== undefined) {
            throw new UserError(`${service} ${method} takes no request body`);
          }
          if (entry.method === 'get') return getRaw(api, service, method, args, hasQuery ? query : undefined);
          const callArgs: unknown[] = [...args];
          if (entry.input) callArgs.push(readInput(opts.input as string));
          if (hasQuery) callArgs.push(query);
          const result = await api.call(service, method, ...callArgs);
          if (result !== undefined) printJson(result);
        },
      ),
    );
}

/** A GET, through a signed URL: JSON answers pretty-printed, anything else (a log) as bytes. */
async function getRaw(
  api: Api,
  service: string,
  method: string,
  args: string[],
  query: Record<string, string> | undefined,
): Promise<void> {
  const url = await api.signedUrl(service, method, ...args, ...(query ? [query] : []));
  const res = await api.get(url);
  // Redirects (artifacts) are reported, not followed: `taskyard task artifact` downloads.
  if (res.status >= 300 && res.status < 400) {
    const body = await res.text();
    printJson(body ? JSON.parse(body) : { location: res.headers.get('location') });
    return;
  }
  if (!res.ok) throw await responseError(res, `from ${service} ${method}`);
  const type = res.headers.get('content-type') ?? '';
  if (type.includes('application/json')) {
    printJson(await res.json());
    return;
  }
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) process.stdout.write(chunk);
}

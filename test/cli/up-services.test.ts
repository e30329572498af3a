/**
 * The event-driven services end to end under `taskyard up` (a real process, its embedded
 * PostgreSQL, in-process bus and local worker pool): a task with index and notify routes, a hook
 * fired by a pulse binding, and a secret read by a task through its scopes.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { chmod, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import slugid from 'slugid';
import taskcluster from 'taskcluster-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Running, runCli } from '../helpers/cli.ts';
import { waitFor } from '../helpers/wait.ts';
import { startSmtp } from '../services/notify/helpers.ts';

// biome-ignore lint/suspicious/noExplicitAny: the official client is untyped
type Untyped = any;

describe('index, notify, hooks and secrets under taskyard up', () => {
  const dir = mkdtempSync(join(tmpdir(), 'taskyard-up-services-'));
  let up: Running;
  let smtp: Awaited<ReturnType<typeof startSmtp>>;
  let rootUrl: string;
  let credentials: { clientId: string; accessToken: string };
  const client = (name: string): Untyped => new taskcluster[name]({ rootUrl, credentials, retries: 2 });

  beforeAll(async () => {
    smtp = await startSmtp();
    await chmod(dir, 0o755);
    up = runCli(['up', '--port', '0', '--data-dir', join(dir, 'data'), '--workers', '2'], {
      TASKYARD_SMTP_HOST: '127.0.0.1',
      TASKYARD_SMTP_PORT: String(smtp.port),
      TASKYARD_SMTP_SECURE: 'false',
    });
    [, rootUrl] = (await up.waitFor(/Taskyard is up at (http:\/\/\S+)/, 90_000)) as RegExpMatchArray as [
      string,
      string,
    ];
    credentials = JSON.parse(readFileSync(join(dir, 'data', 'credentials.json'), 'utf8'));
  }, 120_000);

  afterAll(async () => {
    if (up && up.child.exitCode === null) {
      up.child.kill('SIGTERM');
      await up.exited;
    }
    await smtp?.close();
    await rm(dir, { recursive: true, force: true });
  });

  const task = (name: string, payload: unknown, over: Record<string, unknown> = {}) => ({
    taskQueueId: 'local/default',
    created: new Date().toJSON(),
    deadline: new Date(Date.now() + 3600_000).toJSON(),
    payload,
    metadata: { name, description: name, owner: 'e2e@example.com', source: 'https://example.com/e2e' },
    ...over,
  });

  async function resolved(taskId: string): Promise<string> {
    const queue = client('Queue');
    const end = Date.now() + 90_000;
    for (;;) {
      const { state } = (await queue.status(taskId)).status;
      if (!['unscheduled', 'pending', 'running'].includes(state) || Date.now() > end) return state;
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  async function log(taskId: string): Promise<string> {
    const queue = client('Queue');
    const res = await fetch(
      queue.buildSignedUrl(queue.getLatestArtifact, taskId, 'public/logs/live_backing.log'),
    );
    return res.text();
  }

  it('indexes a completed task with index routes and mails once for its notify.email route', async () => {
    const suffix = slugid
      .nice()
      .replace(/[^a-zA-Z0-9]/g, '')
      .toLowerCase();
    const namespace = `e2e.project-${suffix}.latest`;
    const address = `dev-${suffix}@example.com`;
    const taskId = slugid.nice();
    await client('Queue').createTask(
      taskId,
      task(
        'indexed and notified',
        { command: [['/bin/sh', '-c', 'echo built']], maxRunTime: 60 },
        {
          routes: [`index.${namespace}`, `notify.email.${address}.on-completed`],
        },
      ),
    );
    expect(await resolved(taskId)).toBe('completed');
    await expect
      .poll(
        async () =>
          (
            await client('Index')
              .findTask(namespace)
              .catch(() => undefined)
          )?.taskId,
        {
          timeout: 30_000,
        },
      )
      .toBe(taskId);
    const mailsTo = () => smtp.mails.filter((m) => m.to.includes(address));
    await expect.poll(() => mailsTo().length, { timeout: 30_000 }).toBe(1);
    const [mail] = mailsTo();
    expect(mail.text).toContain(`${rootUrl}/tasks/${taskId}`);
    expect(mail.subject).toMatch(/indexed and notified/);
  }, 180_000);

  it('fires a hook whose pulse binding matches a completed task, and the hook task runs', async () => {
    const hookGroupId = 'e2e';
    const hookId = `on-trigger-${slugid
      .nice()
      .slice(0, 8)
      .replace(/[^a-zA-Z0-9]/g, 'x')}`;
    const route = `e2e.trigger.${hookId}`;
    await client('Auth').createRole(`hook-id:${hookGroupId}/${hookId}`, {
      description: 'what the e2e hook may do',
      scopes: [
        'queue:create-task:lowest:local/default',
        'queue:create-task:project:none',
        'queue:scheduler-id:-',
      ],
    });
    await client('Hooks').createHook(hookGroupId, hookId, {
      metadata: { name: 'on trigger', description: 'fired by a pulse binding', owner: 'e2e@example.com' },
      bindings: [
        { exchange: 'exchange/taskcluster-queue/v1/task-completed', routingKeyPattern: `route.${route}` },
      ],
      triggerSchema: { type: 'object' },
      task: {
        taskQueueId: 'local/default',
        schedulerId: '-',
        created: { $fromNow: '' },
        deadline: { $fromNow: '1 hour' },
        payload: {
          command: [['/bin/sh', '-c', { $eval: "'echo fired by ' + payload.status.taskId" }]],
          maxRunTime: 60,
        },
        metadata: {
          name: 'hook task',
          description: 'made by the hook',
          owner: 'e2e@example.com',
          source: 'https://example.com/e2e',
        },
      },
    });
    const trigger = slugid.nice();
    await client('Queue').createTask(
      trigger,
      task('trigger', { command: [['/bin/true']], maxRunTime: 60 }, { routes: [route] }),
    );
    expect(await resolved(trigger)).toBe('completed');
    const fire = await waitFor(async () => {
      const { lastFires } = await client('Hooks').listLastFires(hookGroupId, hookId);
      return lastFires.find((f: Untyped) => f.firedBy === 'pulseMessage');
    }, 'the hook to fire');
    expect(fire).toMatchObject({ firedBy: 'pulseMessage', result: 'success' });
    expect(await resolved(fire.taskId)).toBe('completed');
    expect(await log(fire.taskId)).toContain(`fired by ${trigger}`);
  }, 180_000);

  it('lets a task read a secret through its scopes, and not another', async () => {
    const name = `project/e2e/${slugid.nice().slice(0, 8)}`;
    const secrets = client('Secrets');
    const expires = new Date(Date.now() + 3600_000).toJSON();
    await secrets.set(name, { secret: { token: 'opensesame' }, expires });
    await secrets.set(`${name}-other`, { secret: { token: 'not yours' }, expires });
    const taskId = slugid.nice();
    const get = (n: string) => `curl -s "$TASKCLUSTER_PROXY_URL/api/secrets/v1/secret/${n}"; echo`;
    await client('Queue').createTask(
      taskId,
      task(
        'reads a secret',
        {
          command: [['/bin/sh', '-c', `${get(name)}; ${get(`${name}-other`)}`]],
          maxRunTime: 60,
          features: { taskclusterProxy: true },
        },
        { scopes: [`secrets:get:${name}`] },
      ),
    );
    expect(await resolved(taskId)).toBe('completed');
    const text = await log(taskId);
    expect(text).toContain('"token":"opensesame"');
    expect(text).not.toContain('not yours');
    expect(text).toMatch(/InsufficientScopes/);
  }, 180_000);
});

// biome-ignore-all lint/suspicious/noTemplateCurlyInString: JSON-e templates are written with ${...}
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DeliveredMessage } from '../../../src/platform/events/index.ts';
import { handleGroupResolved, handleTaskEvent } from '../../../src/services/notify/index.ts';
import { newTaskId, queueClient, taskDef } from '../../helpers/queue.ts';
import { startTestTaskyard, type TestTaskyard } from '../../helpers/taskyard.ts';
import { captureEvents, notifyClient, notifyContext, settle, startRecorder, startSmtp } from './helpers.ts';

const Q = 'exchange/taskcluster-queue/v1/';

let ty: TestTaskyard;
let smtp: Awaited<ReturnType<typeof startSmtp>>;
let slack: Awaited<ReturnType<typeof startRecorder>>;
let matrix: Awaited<ReturnType<typeof startRecorder>>;

beforeAll(async () => {
  smtp = await startSmtp();
  slack = await startRecorder();
  matrix = await startRecorder();
  ty = await startTestTaskyard({
    services: ['auth', 'queue', 'notify'],
    config: {
      smtpHost: '127.0.0.1',
      smtpPort: smtp.port,
      slackAccessToken: 'xoxb-routes',
      slackApiUrl: `${slack.url}/api`,
      matrixBaseUrl: matrix.url,
      matrixAccessToken: 'mx-routes',
    },
  });
}, 60_000);

afterAll(async () => {
  await ty?.stop();
  await smtp?.close();
  await slack?.close();
  await matrix?.close();
});

const mailsTo = (address: string) => smtp.mails.filter((m) => m.to.includes(address));
const uniq = (name: string) => `${name}-${Math.random().toString(36).slice(2, 8)}@example.com`;

/** Creates a task in a queue of its own and runs it to `end`; returns its id. */
async function runTask(
  over: Record<string, unknown>,
  end: 'completed' | 'failed' | 'exception' | 'none' = 'completed',
): Promise<string> {
  const taskQueueId = `notify-prov/w${Math.random().toString(36).slice(2, 10)}`;
  const queue = queueClient(ty);
  const taskId = newTaskId();
  await queue.createTask(taskId, taskDef(ty, { taskQueueId, ...over }));
  if (end === 'none') return taskId;
  await queue.claimWork(taskQueueId, { workerGroup: 'wg', workerId: 'wi', tasks: 1 });
  if (end === 'completed') await queue.reportCompleted(taskId, 0);
  if (end === 'failed') await queue.reportFailed(taskId, 0);
  if (end === 'exception') await queue.reportException(taskId, 0, { reason: 'malformed-payload' });
  return taskId;
}

describe('task routes', () => {
  it('emails on completion with the default message and a link to the task', async () => {
    const address = uniq('done');
    const taskId = await runTask({ routes: [`notify.email.${address}.on-completed`] });
    await settle(ty);
    await expect.poll(() => mailsTo(address).length, { timeout: 15_000 }).toBe(1);
    const [mail] = mailsTo(address);
    expect(mail.subject).toBe(`Task completed: test - ${taskId}`);
    expect(mail.text).toContain(`${ty.rootUrl}/tasks/${taskId}`);
    expect(mail.html).toContain(`href="${ty.rootUrl}/tasks/${taskId}"`);
  });

  it('renders task.extra.notify.email with JSON-e, and falls back to the default on a template error', async () => {
    const address = uniq('custom');
    const taskId = await runTask({
      routes: [`notify.email.${address}.on-resolved`],
      extra: {
        notify: {
          email: {
            subject: 'Custom ${task.metadata.name} ${status.state}',
            content: 'Task ${taskId} on ${rootUrl}',
            link: { text: 'Go', href: '${rootUrl}/custom' },
          },
        },
      },
    });
    await expect.poll(() => mailsTo(address).length, { timeout: 15_000 }).toBe(1);
    const [mail] = mailsTo(address);
    expect(mail.subject).toBe('Custom test completed');
    expect(mail.text).toContain(`Task ${taskId} on ${ty.rootUrl}`);
    expect(mail.text).toContain(`Go: ${ty.rootUrl}/custom`);

    const broken = uniq('broken');
    const brokenId = await runTask({
      routes: [`notify.email.${broken}.on-completed`],
      extra: { notify: { email: { subject: '${nosuchfunction()}' } } },
    });
    await expect.poll(() => mailsTo(broken).length, { timeout: 15_000 }).toBe(1);
    expect(mailsTo(broken)[0].subject).toBe(`Task completed: test - ${brokenId}`);
  });

  it('follows on-failed, on-any, on-success and on-transition, and not the events they exclude', async () => {
    const failed = uniq('failed');
    const any = uniq('any');
    const success = uniq('success');
    const transition = uniq('transition');
    const completedOnly = uniq('completed-only');
    await runTask(
      {
        routes: [
          `notify.email.${failed}.on-failed`,
          `notify.email.${any}.on-any`,
          `notify.email.${success}.on-success`,
          `notify.email.${transition}.on-transition`,
          `notify.email.${completedOnly}.on-completed`,
        ],
      },
      'failed',
    );
    await settle(ty);
    // defined, pending, running, failed
    await expect.poll(() => mailsTo(transition).length, { timeout: 15_000 }).toBe(4);
    expect(mailsTo(failed)).toHaveLength(1);
    expect(mailsTo(any)).toHaveLength(1);
    expect(mailsTo(success)).toHaveLength(0);
    expect(mailsTo(completedOnly)).toHaveLength(0);
  });

  it('does not notify a canceled task on on-exception, but does for other exceptions', async () => {
    const canceled = uniq('canceled');
    const taskId = await runTask({ routes: [`notify.email.${canceled}.on-exception`] }, 'none');
    await queueClient(ty).cancelTask(taskId);
    const broken = uniq('malformed');
    await runTask({ routes: [`notify.email.${broken}.on-exception`] }, 'exception');
    await expect.poll(() => mailsTo(broken).length, { timeout: 15_000 }).toBe(1);
    await settle(ty);
    expect(mailsTo(canceled)).toHaveLength(0);
  });

  it('posts to Slack and Matrix and publishes pulse for their routes', async () => {
    const capture = await captureEvents(ty, ['exchange/taskcluster-notify/v1/notification']);
    try {
      const taskId = await runTask({
        routes: [
          'notify.slack-channel.CROUTES.on-completed',
          'notify.matrix-room.!abc:example.org.on-completed',
          'notify.pulse.my.topic.on-completed',
        ],
        extra: { notify: { matrixBody: 'done: ${taskId}' } },
      });
      await expect.poll(() => capture.messages.length, { timeout: 15_000 }).toBe(1);
      expect(capture.messages[0]).toMatchObject({
        routingKey: 'primary.my.topic',
        routes: ['my.topic'],
        payload: { message: { taskId, state: 'completed' } },
      });
      await expect.poll(() => slack.requests.length, { timeout: 15_000 }).toBe(1);
      expect(slack.requests[0].headers.authorization).toBe('Bearer xoxb-routes');
      expect(slack.requests[0].body.channel).toBe('CROUTES');
      expect(slack.requests[0].body.text).toContain(`${ty.rootUrl}/tasks/${taskId}`);
      await expect.poll(() => matrix.requests.length, { timeout: 15_000 }).toBe(1);
      expect(matrix.requests[0].url).toContain('/rooms/!abc%3Aexample.org/send/m.room.message/');
      expect(matrix.requests[0].body).toEqual({ msgtype: 'm.notice', body: `done: ${taskId}` });
    } finally {
      await capture.close();
    }
  });

  it('honours the denylist on routes', async () => {
    const address = uniq('denied');
    await notifyClient(ty).addDenylistAddress({ notificationType: 'email', notificationAddress: address });
    const allowed = uniq('allowed');
    await runTask({
      routes: [`notify.email.${address}.on-completed`, `notify.email.${allowed}.on-completed`],
    });
    await expect.poll(() => mailsTo(allowed).length, { timeout: 15_000 }).toBe(1);
    await settle(ty);
    expect(mailsTo(address)).toHaveLength(0);
  });
});

describe('delivery guarantees', () => {
  it('sends one mail when the same event is delivered twice', async () => {
    const capture = await captureEvents(ty, [`${Q}task-completed`], 'route.notify.#');
    try {
      const address = uniq('twice');
      await runTask({ routes: [`notify.email.${address}.on-completed`] });
      await expect.poll(() => mailsTo(address).length, { timeout: 15_000 }).toBe(1);
      await settle(ty);
      const msg = capture.messages.find((m) => m.routes.includes(`notify.email.${address}.on-completed`))!;
      const sent: string[] = [];
      const ctx = notifyContext(ty, {
        email: {
          send: async (mail) => {
            sent.push(mail.to);
          },
          close: async () => {},
        },
      });
      await handleTaskEvent(ctx, { ...msg, redelivered: true });
      await handleTaskEvent(ctx, { ...msg, redelivered: true });
      expect(sent).toEqual([]);
      expect(mailsTo(address)).toHaveLength(1);
    } finally {
      await capture.close();
    }
  });

  it('retries a send that failed for a reason that may pass, and then sends once', async () => {
    // An event the service itself never sees (the task does not complete): handled here alone.
    const user = `ircu${Math.random().toString(36).slice(2, 8)}`;
    const routes = [`notify.irc-user.${user}.on-completed`, 'notify.irc-channel.builds.on-completed'];
    const taskId = await runTask({ routes }, 'none');
    const status = (await queueClient(ty).status(taskId)).status;
    const msg: DeliveredMessage = {
      exchange: `${Q}task-completed`,
      routingKey: `primary.${taskId}.0`,
      routes,
      payload: { version: 1, status: { ...status, state: 'completed' }, runId: 0 },
      redelivered: false,
    };
    const sent: string[] = [];
    let fail = true;
    const irc = {
      sendToChannel: async (channel: string, text: string) => {
        sent.push(`${channel} ${text}`);
      },
      sendToUser: async (nick: string, text: string) => {
        if (fail) throw new Error('not connected yet');
        sent.push(`${nick} ${text}`);
      },
      close: async () => {},
    };
    const ctx = notifyContext(ty, { irc });
    await expect(handleTaskEvent(ctx, msg)).rejects.toThrow('not connected yet');
    expect(sent).toHaveLength(1);
    expect(sent[0]).toMatch(/^#builds Task "test" is completed\. Inspect: http/);
    fail = false;
    await handleTaskEvent(ctx, { ...msg, redelivered: true });
    await handleTaskEvent(ctx, { ...msg, redelivered: true });
    expect(sent).toHaveLength(2);
    expect(sent[1]).toMatch(new RegExp(`^${user} Task "test" is completed`));
  });
});

describe('task group notifications', () => {
  it('sends one summary per resolution of the group, and again after it resolves anew', async () => {
    const capture = await captureEvents(ty, [`${Q}task-group-resolved`]);
    try {
      const address = uniq('group');
      const taskGroupId = newTaskId();
      const route = `notify.email.${address}.on-group-resolved`;
      const queue = queueClient(ty);
      const taskQueueId = `notify-prov/g${Math.random().toString(36).slice(2, 10)}`;
      const ids = [newTaskId(), newTaskId(), newTaskId()];
      for (const id of ids) {
        await queue.createTask(id, taskDef(ty, { taskQueueId, taskGroupId, routes: [route] }));
      }
      await queue.claimWork(taskQueueId, { workerGroup: 'wg', workerId: 'wi', tasks: 3 });
      await queue.reportCompleted(ids[0], 0);
      await queue.reportCompleted(ids[1], 0);
      await settle(ty);
      expect(mailsTo(address)).toHaveLength(0);
      await queue.reportFailed(ids[2], 0);
      await expect.poll(() => mailsTo(address).length, { timeout: 15_000 }).toBe(1);
      const [mail] = mailsTo(address);
      expect(mail.subject).toBe(`Task group resolved with failures: ${taskGroupId}`);
      expect(mail.text).toContain('- completed: 2');
      expect(mail.text).toContain('- failed: 1');
      expect(mail.text).toContain(`${ty.rootUrl}/tasks/groups/${taskGroupId}`);

      // A redelivered group event sends nothing more.
      const event = capture.messages.find(
        (m) => (m.payload as { taskGroupId: string }).taskGroupId === taskGroupId,
      ) as DeliveredMessage;
      await handleGroupResolved(
        notifyContext(ty, {
          email: {
            send: async () => {
              throw new Error('must not send');
            },
            close: async () => {},
          },
        }),
        { ...event, redelivered: true },
      );

      // A new task makes the group unresolved; its resolution is a second notification.
      const late = newTaskId();
      await queue.createTask(late, taskDef(ty, { taskQueueId, taskGroupId, routes: [route] }));
      await queue.claimWork(taskQueueId, { workerGroup: 'wg', workerId: 'wi', tasks: 1 });
      await queue.reportCompleted(late, 0);
      await expect.poll(() => mailsTo(address).length, { timeout: 15_000 }).toBe(2);
      expect(mailsTo(address)[1].text).toContain('- completed: 3');
      await settle(ty);
      expect(mailsTo(address)).toHaveLength(2);
    } finally {
      await capture.close();
    }
  });
});

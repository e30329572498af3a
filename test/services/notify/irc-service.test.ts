/**
 * The notify service's IRC channel end to end: the `irc` endpoint and `notify.irc-*` task routes
 * delivered by the service's own IRC sender to a real ngIRCd, read by a second IRC client.
 */
import slugid from 'slugid';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rejection } from '../../helpers/clients.ts';
import { type Listener, listen, Ngircd, ngircdAvailable, toolRequired } from '../../helpers/ircd.ts';
import { queueClient, taskDef } from '../../helpers/queue.ts';
import { startTestTaskyard, type TestTaskyard } from '../../helpers/taskyard.ts';
import { notifyClientFromReference } from './helpers.ts';

const haveNgircd = ngircdAvailable();
const describeIrc = haveNgircd || toolRequired('ngircd') ? describe : describe.skip;

describeIrc('notify over IRC, against a real ngIRCd', () => {
  let ircd: Ngircd;
  let ty: TestTaskyard;
  let listener: Listener;
  const fromBot = (target: string) =>
    listener.messages
      .filter((m) => m.nick === 'taskyard-notify' && m.target === target)
      .map((m) => m.message);

  beforeAll(async () => {
    if (!haveNgircd)
      throw new Error('TASKYARD_REQUIRE_TOOLS lists ngircd, but /usr/sbin/ngircd is not installed');
    ircd = await Ngircd.start();
    listener = await listen(ircd, 'watcher', ['#builds']);
    ty = await startTestTaskyard({
      services: ['auth', 'queue', 'notify'],
      config: { ircServer: ircd.host, ircPort: ircd.port, ircNick: 'taskyard-notify' },
    });
  }, 60_000);

  afterAll(async () => {
    await ty?.stop();
    await listener?.close();
    await ircd?.dispose();
  });

  it('posts to a channel and to a user through the API', async () => {
    const notify = await notifyClientFromReference(ty);
    await notify.irc({ channel: '#builds', message: 'release 1.2 is out' });
    await notify.irc({ user: 'watcher', message: 'your build passed' });
    await expect.poll(() => fromBot('#builds'), { timeout: 20_000 }).toEqual(['release 1.2 is out']);
    await expect.poll(() => fromBot('watcher'), { timeout: 20_000 }).toEqual(['your build passed']);
  });

  it('answers 400 naming the nick when the user is not on the network, and stays usable', async () => {
    const notify = await notifyClientFromReference(ty);
    const err = await rejection(notify.irc({ user: 'nobody-here', message: 'hello?' }));
    expect(err.statusCode).toBe(400);
    expect(err.message).toContain('nobody-here');
    await notify.irc({ channel: '#builds', message: 'still here' });
    await expect.poll(() => fromBot('#builds'), { timeout: 20_000 }).toContain('still here');
  });

  it('tells the channel named in a task route when the task completes', async () => {
    const queue = queueClient(ty);
    const taskQueueId = `notify-prov/irc${Math.random().toString(36).slice(2, 8)}`;
    const taskId = slugid.nice();
    await queue.createTask(
      taskId,
      taskDef(ty, { taskQueueId, routes: ['notify.irc-channel.#builds.on-completed'] }),
    );
    await queue.claimWork(taskQueueId, { workerGroup: 'wg', workerId: 'wi', tasks: 1 });
    await queue.reportCompleted(taskId, 0);
    await expect
      .poll(() => fromBot('#builds').filter((m) => m.includes(taskId)), { timeout: 20_000 })
      .toHaveLength(1);
    expect(fromBot('#builds').find((m) => m.includes(taskId))).toMatch(/is completed/);
  });
});

import { afterAll, beforeAll, expect, it } from 'vitest';
import { waitFor } from '../../helpers/wait.ts';
import { startSmtp } from '../notify/helpers.ts';
import { echoHook, type HooksTestbed, startHooksTestbed } from './helpers.ts';

let tb: HooksTestbed;
let smtp: Awaited<ReturnType<typeof startSmtp>>;

beforeAll(async () => {
  smtp = await startSmtp();
  tb = await startHooksTestbed({
    withNotify: { smtpHost: '127.0.0.1', smtpPort: smtp.port, emailSourceAddress: 'taskyard@example.com' },
  });
});
afterAll(async () => {
  await tb?.stop();
  await smtp?.close();
});

it('emails the owner through the real notify service when a scheduled fire is refused', async () => {
  // No role for hook-id:noscopes/*: the queue refuses the task (403).
  await tb.hooks().createHook('noscopes', 'cron', echoHook({ schedule: ['0 * * * * *'] }));
  const status = await tb.hooks().getHookStatus('noscopes', 'cron');
  const jump = new Date(status.nextScheduledDate).getTime() + 1000 - tb.ty.clock.now.getTime();
  tb.ty.clock.advance(jump);
  try {
    expect(await tb.service.runSchedulerPass()).toBe(1);
  } finally {
    tb.ty.clock.advance(-jump);
  }
  const [fire] = (await tb.hooks().listLastFires('noscopes', 'cron')).lastFires;
  expect(fire.result).toBe('error');
  expect(fire.error).toContain('createTask failed (403)');
  const mail = await waitFor(async () => smtp.mails[0], 'the email');
  expect(mail.to).toEqual(['owner@example.com']);
  expect(mail.subject).toContain('Scheduled Hook failure: noscopes/cron');
  expect(mail.text).toContain(fire.taskId);
});

import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { echoHook, eventually, type HooksTestbed, startHooksTestbed } from './helpers.ts';

interface Mail {
  to: string[];
  data: string;
}

let tb: HooksTestbed;
let smtp: SMTPServer;
const mails: Mail[] = [];

beforeAll(async () => {
  smtp = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        mails.push({
          to: session.envelope.rcptTo.map((r) => r.address),
          data: Buffer.concat(chunks).toString('utf8'),
        });
        callback();
      });
    },
  });
  await new Promise<void>((resolve) => smtp.listen(0, '127.0.0.1', resolve));
  const { port } = smtp.server.address() as AddressInfo;
  tb = await startHooksTestbed({
    withNotify: { smtpHost: '127.0.0.1', smtpPort: port, emailSourceAddress: 'taskyard@example.com' },
  });
});
afterAll(async () => {
  await tb?.stop();
  await new Promise<void>((resolve) => smtp?.close(() => resolve()));
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
  const mail = await eventually(async () => mails[0], 'the email');
  expect(mail.to).toEqual(['owner@example.com']);
  expect(mail.data).toContain('Scheduled Hook failure: noscopes/cron');
  expect(mail.data).toContain(fire.taskId);
});

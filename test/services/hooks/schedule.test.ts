import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InProcessBus } from '../../../src/platform/events/index.ts';
import { createHookRole, echoHook, type HooksTestbed, startHooksTestbed } from './helpers.ts';

let tb: HooksTestbed;
const buses: InProcessBus[] = [];
beforeAll(async () => {
  tb = await startHooksTestbed();
  await createHookRole(tb);
});
afterAll(async () => {
  await tb?.stop();
  for (const b of buses) await b.close();
});

const MINUTE = 60_000;

/** Another hooks process: its own bus, so it shares only the database with the others. */
async function otherProcess(rootUrl?: string) {
  const bus = new InProcessBus();
  buses.push(bus);
  return tb.addService({ bus, rootUrl });
}

async function lastFires(hookGroupId: string, hookId: string) {
  const res = await tb.ty.testDb.db.query<{ taskId: string; result: string; error: string; firedBy: string }>(
    `select task_id as "taskId", result, error, fired_by as "firedBy" from hooks_last_fires
     where hook_group_id = $1 and hook_id = $2 order by id`,
    [hookGroupId, hookId],
  );
  return res.rows;
}

async function nextScheduled(hookGroupId: string, hookId: string): Promise<Date | null> {
  const res = await tb.ty.testDb.db.query<{ next: Date | null }>(
    'select next_scheduled_date as next from hooks where hook_group_id = $1 and hook_id = $2',
    [hookGroupId, hookId],
  );
  return res.rows[0].next;
}

/**
 * Moves the injected clock to `to` for `fn`, then back: the official client signs with the real
 * clock and the server allows 15 minutes of skew, so API calls happen only outside.
 */
async function at<T>(to: Date, fn: () => Promise<T>): Promise<T> {
  const delta = to.getTime() - tb.ty.clock.now.getTime();
  tb.ty.clock.advance(delta);
  try {
    return await fn();
  } finally {
    tb.ty.clock.advance(-delta);
  }
}

describe('schedules across processes', () => {
  it('fires a one-minute schedule exactly once per minute with two processes polling', async () => {
    const a = tb.service;
    const b = await otherProcess();
    await tb.hooks().createHook('tests', 'minutely', echoHook({ schedule: ['0 * * * * *'] }));
    const first = (await nextScheduled('tests', 'minutely'))!;
    expect(first.getUTCSeconds()).toBe(0);
    const counts: number[] = [];
    for (let i = 0; i < 10; i++) {
      await at(new Date(first.getTime() + i * MINUTE + 1000), async () => {
        // Both processes at once, then both again: the slot is taken by exactly one.
        const once = await Promise.all([a.runSchedulerPass(), b.runSchedulerPass()]);
        const again = await Promise.all([a.runSchedulerPass(), b.runSchedulerPass()]);
        counts.push(once[0] + once[1] + again[0] + again[1]);
      });
    }
    expect(counts).toEqual(Array(10).fill(1));
    const fires = await lastFires('tests', 'minutely');
    expect(fires).toHaveLength(10);
    expect(fires.every((f) => f.result === 'success' && f.firedBy === 'schedule')).toBe(true);
    expect(new Set(fires.map((f) => f.taskId)).size).toBe(10);
    const created = await Promise.all(fires.map(async (f) => (await tb.queue().task(f.taskId)).created));
    expect(created).toEqual(fires.map((_, i) => new Date(first.getTime() + i * MINUTE).toJSON()));
    expect((await nextScheduled('tests', 'minutely'))!.getTime()).toBe(first.getTime() + 10 * MINUTE);
  });

  it('fires a slot missed while no scheduler ran once, then goes on from the current time', async () => {
    const before = await otherProcess();
    await tb.hooks().createHook('tests', 'restart', echoHook({ schedule: ['0 * * * * *'] }));
    const first = (await nextScheduled('tests', 'restart'))!;
    expect(await at(new Date(first.getTime() + 1000), () => before.runSchedulerPass())).toBe(1);
    await before.stop();
    // Down for two and a half minutes: the slots at +1 and +2 minutes pass without a scheduler.
    const after = await otherProcess();
    const restart = new Date(first.getTime() + 2.5 * MINUTE);
    expect(await at(restart, () => after.runSchedulerPass())).toBe(1);
    expect(await at(restart, () => after.runSchedulerPass())).toBe(0);
    expect((await nextScheduled('tests', 'restart'))!.getTime()).toBe(first.getTime() + 3 * MINUTE);
    expect(await at(new Date(first.getTime() + 3 * MINUTE), () => after.runSchedulerPass())).toBe(1);
    const fires = await lastFires('tests', 'restart');
    expect(fires.map((f) => f.result)).toEqual(['success', 'success', 'success']);
    const created = await Promise.all(fires.map(async (f) => (await tb.queue().task(f.taskId)).created));
    // The missed fire is the first missed slot's (its precomputed taskId and time): one task, not two.
    expect(created).toEqual([0, 1, 3].map((m) => new Date(first.getTime() + m * MINUTE).toJSON()));
  });
});

/** Stands in for the queue and notify: answers createTask with `createStatus`, records emails. */
class StandIn {
  createStatus = 400;
  notifyStatus = 200;
  creates = 0;
  emails: Array<{ authorization: string; body: { address: string; subject: string; content: string } }> = [];
  private server!: Server;
  url = '';

  async start() {
    this.server = createServer((req, res) => {
      let data = '';
      req.on('data', (c) => {
        data += c;
      });
      req.on('end', () => {
        res.setHeader('content-type', 'application/json');
        if (req.method === 'PUT' && req.url?.startsWith('/api/queue/v1/task/')) {
          this.creates++;
          res.statusCode = this.createStatus;
          res.end(JSON.stringify({ code: 'Stand-in', message: `stand-in says ${this.createStatus}` }));
        } else if (req.method === 'POST' && req.url === '/api/notify/v1/email') {
          this.emails.push({ authorization: req.headers.authorization ?? '', body: JSON.parse(data) });
          res.statusCode = this.notifyStatus;
          res.end(
            this.notifyStatus === 200 ? '' : JSON.stringify({ code: 'ResourceNotFound', message: 'no' }),
          );
        } else {
          res.statusCode = 404;
          res.end('{}');
        }
      });
    });
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  stop() {
    return new Promise((r) => this.server.close(r));
  }
}

describe('failed scheduled fires', () => {
  let standIn: StandIn;
  beforeAll(async () => {
    standIn = new StandIn();
    await standIn.start();
  });
  afterAll(async () => standIn?.stop());

  it('records a rejected createTask, emails the owner through notify, and moves to the next slot', async () => {
    const svc = await otherProcess(standIn.url);
    await tb.hooks().createHook('tests', 'rejected', echoHook({ schedule: ['0 * * * * *'] }));
    const first = (await nextScheduled('tests', 'rejected'))!;
    standIn.createStatus = 400;
    expect(await at(new Date(first.getTime() + 1000), () => svc.runSchedulerPass())).toBe(1);
    const [fire] = await lastFires('tests', 'rejected');
    expect(fire).toMatchObject({ result: 'error', firedBy: 'schedule' });
    expect(fire.error).toContain('createTask failed (400): stand-in says 400');
    expect((await nextScheduled('tests', 'rejected'))!.getTime()).toBe(first.getTime() + MINUTE);
    expect(standIn.emails).toHaveLength(1);
    const email = standIn.emails[0];
    expect(email.authorization).toMatch(/^Hawk id="static\/taskcluster\/hooks"/);
    expect(email.body.address).toBe('owner@example.com');
    expect(email.body.subject).toBe('[Taskcluster Hooks] Scheduled Hook failure: tests/rejected');
    expect(email.body.content).toContain(fire.taskId);
    expect(email.body.content).toContain('stand-in says 400');
    const status = await tb.hooks().getHookStatus('tests', 'rejected');
    expect(status.lastFire.result).toBe('error');
  });

  it('sends no email when emailOnError is false, and carries on when notify is not there', async () => {
    const svc = await otherProcess(standIn.url);
    const quiet = echoHook({ schedule: ['0 * * * * *'] });
    (quiet.metadata as Record<string, unknown>).emailOnError = false;
    await tb.hooks().createHook('tests', 'quiet', quiet);
    await tb.hooks().createHook('tests', 'nonotify', echoHook({ schedule: ['0 * * * * *'] }));
    const first = (await nextScheduled('tests', 'quiet'))!;
    const emailsBefore = standIn.emails.length;
    standIn.notifyStatus = 404;
    try {
      expect(await at(new Date(first.getTime() + 1000), () => svc.runSchedulerPass())).toBe(2);
    } finally {
      standIn.notifyStatus = 200;
    }
    // Only the hook that wants emails got one (answered 404); both fires are recorded and moved on.
    expect(standIn.emails.slice(emailsBefore).map((e) => e.body.subject)).toEqual([
      '[Taskcluster Hooks] Scheduled Hook failure: tests/nonotify',
    ]);
    expect((await lastFires('tests', 'quiet')).map((f) => f.result)).toEqual(['error']);
    expect((await lastFires('tests', 'nonotify')).map((f) => f.result)).toEqual(['error']);
    expect((await nextScheduled('tests', 'nonotify'))!.getTime()).toBe(first.getTime() + MINUTE);
  });

  it('retries a createTask that failed with a 5xx until the next slot is due, then records the failure', async () => {
    const svc = await otherProcess(standIn.url);
    await tb.hooks().createHook('tests', 'flaky', echoHook({ schedule: ['0 * * * * *'] }));
    const first = (await nextScheduled('tests', 'flaky'))!;
    standIn.createStatus = 503;
    const createsBefore = standIn.creates;
    expect(await at(new Date(first.getTime() + 1000), () => svc.runSchedulerPass())).toBe(0);
    expect(await at(new Date(first.getTime() + 30_000), () => svc.runSchedulerPass())).toBe(0);
    expect(standIn.creates - createsBefore).toBe(2);
    expect(await lastFires('tests', 'flaky')).toEqual([]);
    expect((await nextScheduled('tests', 'flaky'))!.getTime()).toBe(first.getTime());
    // Past the next slot: this one is given up (recorded), and the schedule goes on.
    expect(await at(new Date(first.getTime() + MINUTE + 1000), () => svc.runSchedulerPass())).toBe(1);
    const fires = await lastFires('tests', 'flaky');
    expect(fires).toHaveLength(1);
    expect(fires[0].error).toContain('createTask failed (503)');
    expect((await nextScheduled('tests', 'flaky'))!.getTime()).toBe(first.getTime() + 2 * MINUTE);
  });
});

describe('last fires expiry', () => {
  it('keeps last fires for a year, then an expiry pass removes them', async () => {
    const hooks = tb.hooks();
    await hooks.createHook('tests', 'expiring', echoHook());
    await hooks.triggerHook('tests', 'expiring', {});
    expect(await tb.service.expire()).toMatchObject({ lastFires: 0 });
    expect((await hooks.listLastFires('tests', 'expiring')).lastFires).toHaveLength(1);
    const inAYear = new Date(tb.ty.clock.now.getTime() + 366 * 24 * 3600e3);
    const counts = await at(inAYear, () => tb.service.expire());
    expect(counts.lastFires).toBeGreaterThanOrEqual(1);
    expect((await hooks.listLastFires('tests', 'expiring')).lastFires).toEqual([]);
  });
});

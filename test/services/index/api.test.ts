import apis from 'taskcluster-client/src/apis.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeClient, rejection } from '../../helpers/clients.ts';
import { newTaskId } from '../../helpers/queue.ts';
import { startTestTaskyard, type TestTaskyard } from '../../helpers/taskyard.ts';
import { freshNamespace, fromNow, indexClient } from './helpers.ts';

let ty: TestTaskyard;
beforeAll(async () => {
  ty = await startTestTaskyard();
});
afterAll(async () => ty?.stop());

const HOUR = 3600e3;
const DAY = 24 * HOUR;

interface Entry {
  name: string;
  method: string;
  route: string;
  args: string[];
  query: string[];
  scopes?: unknown;
}

describe('the index reference', () => {
  it('has every endpoint of the official client with the same route, arguments, query and scopes', async () => {
    const ref = (await (await fetch(`${ty.rootUrl}/references/index/v1/api.json`)).json()) as {
      entries: Entry[];
    };
    const ours = new Map<string, Entry>(ref.entries.map((e: Entry) => [e.name, e]));
    const theirs = apis.Index.reference.entries.filter(
      (e: { type: string }) => e.type === 'function',
    ) as Entry[];
    for (const e of theirs) {
      const mine = ours.get(e.name);
      expect(mine, `Index.${e.name} is missing`).toBeDefined();
      expect(
        {
          method: mine!.method,
          route: mine!.route,
          args: mine!.args,
          query: [...mine!.query].sort(),
          scopes: mine!.scopes,
        },
        `Index.${e.name}`,
      ).toEqual({
        method: e.method,
        route: e.route,
        args: e.args,
        query: [...e.query].sort(),
        scopes: e.scopes,
      });
    }
    const schema = (await (
      await fetch(`${ty.rootUrl}/schemas/index/v1/indexed-task-response.json`)
    ).json()) as {
      required: string[];
    };
    expect(schema.required).toEqual(
      expect.arrayContaining(['namespace', 'taskId', 'rank', 'data', 'expires']),
    );
  });
});

describe('inserting and finding tasks', () => {
  it('inserts a task, finds it by its index path and answers the entry', async () => {
    const index = indexClient(ty);
    const path = `${freshNamespace()}.builds.linux64.latest`;
    const taskId = newTaskId();
    const expires = fromNow(ty, DAY);
    const inserted = await index.insertTask(path, { taskId, rank: 3, data: { revision: 'abc' }, expires });
    expect(inserted).toEqual({ namespace: path, taskId, rank: 3, data: { revision: 'abc' }, expires });
    expect(await index.findTask(path)).toEqual(inserted);
  });

  it('keeps the entry of higher rank: a lower rank answers 200 with the entry that stays', async () => {
    const index = indexClient(ty);
    const path = `${freshNamespace()}.ranked`;
    const [first, higher, lower, equal] = [newTaskId(), newTaskId(), newTaskId(), newTaskId()];
    const expires = fromNow(ty, DAY);
    await index.insertTask(path, { taskId: first, rank: 41, data: {}, expires });
    expect((await index.insertTask(path, { taskId: higher, rank: 42, data: { n: 2 }, expires })).taskId).toBe(
      higher,
    );
    const kept = await index.insertTask(path, { taskId: lower, rank: 7, data: { n: 3 }, expires });
    expect(kept).toMatchObject({ taskId: higher, rank: 42, data: { n: 2 } });
    expect((await index.findTask(path)).taskId).toBe(higher);
    // Among equal ranks the latest wins.
    expect((await index.insertTask(path, { taskId: equal, rank: 42, data: {}, expires })).taskId).toBe(equal);
    expect((await index.findTask(path)).taskId).toBe(equal);
  });

  it('accepts ranks that are not integers and keeps them exactly', async () => {
    const index = indexClient(ty);
    const path = `${freshNamespace()}.fractional`;
    const taskId = newTaskId();
    await index.insertTask(path, { taskId, rank: 1712345678901.5, data: {}, expires: fromNow(ty, DAY) });
    expect((await index.findTask(path)).rank).toBe(1712345678901.5);
  });

  it('answers 404 for a path with no entry or an expired one, and lets any rank replace an expired entry', async () => {
    const index = indexClient(ty);
    const ns = freshNamespace();
    expect((await rejection(index.findTask(`${ns}.nothing`))).statusCode).toBe(404);
    await index.insertTask(`${ns}.old`, {
      taskId: newTaskId(),
      rank: 99,
      data: {},
      expires: fromNow(ty, -HOUR),
    });
    expect((await rejection(index.findTask(`${ns}.old`))).statusCode).toBe(404);
    const taskId = newTaskId();
    await index.insertTask(`${ns}.old`, { taskId, rank: 1, data: {}, expires: fromNow(ty, DAY) });
    expect((await index.findTask(`${ns}.old`)).taskId).toBe(taskId);
  });

  it('deletes an entry, keeps its namespaces, and deleting nothing still succeeds', async () => {
    const index = indexClient(ty);
    const ns = freshNamespace();
    const path = `${ns}.testing.name.space`;
    await index.insertTask(path, { taskId: newTaskId(), rank: 1, data: {}, expires: fromNow(ty, DAY) });
    await index.deleteTask(path);
    expect((await rejection(index.findTask(path))).code).toBe('ResourceNotFound');
    expect(
      (await index.listNamespaces(`${ns}.testing`)).namespaces.map((n: { name: string }) => n.name),
    ).toEqual(['name']);
    await index.deleteTask(`${ns}.never.there`);
  });

  it('requires index:insert-task, index:find-task and index:delete-task for the path', async () => {
    const ns = freshNamespace();
    const creds = await makeClient(ty, `index/limited-${ns}`, [
      `index:insert-task:${ns}.mine.*`,
      `index:find-task:${ns}.mine.*`,
    ]);
    const index = indexClient(ty, creds);
    const entry = { taskId: newTaskId(), rank: 0, data: {}, expires: fromNow(ty, DAY) };
    await index.insertTask(`${ns}.mine.a`, entry);
    expect((await index.findTask(`${ns}.mine.a`)).taskId).toBe(entry.taskId);
    for (const call of [
      () => index.insertTask(`${ns}.other.a`, entry),
      () => index.findTask(`${ns}.other.a`),
      () => index.deleteTask(`${ns}.mine.a`),
      () => index.listTasks(ns),
      () => index.listNamespaces(ns),
    ]) {
      expect((await rejection(call())).code).toBe('InsufficientScopes');
    }
  });
});

describe('listing namespaces and tasks', () => {
  it('lists the namespaces and tasks directly under a namespace, leaving out expired ones', async () => {
    const index = indexClient(ty);
    const ns = freshNamespace();
    const live = fromNow(ty, DAY);
    const dead = fromNow(ty, -2 * DAY);
    for (const p of ['abc', 'abc.def', 'abc.def2', 'bbc', 'bbc.def', 'cbc', 'cbc.def', 'dbc.def2']) {
      await index.insertTask(`${ns}.${p}`, { taskId: newTaskId(), rank: 13, data: {}, expires: live });
    }
    for (const p of ['pqr', 'pqr.stu', 'pqr.stu2', 'ppt', 'ppt.stu']) {
      await index.insertTask(`${ns}.${p}`, { taskId: newTaskId(), rank: 13, data: {}, expires: dead });
    }
    const { namespaces } = await index.listNamespaces(ns);
    expect(namespaces.map((n: { name: string }) => n.name)).toEqual(['abc', 'bbc', 'cbc', 'dbc']);
    expect(namespaces[0]).toMatchObject({ namespace: `${ns}.abc`, name: 'abc' });
    const { tasks } = await index.listTasks(ns);
    expect(tasks.map((t: { namespace: string }) => t.namespace)).toEqual([
      `${ns}.abc`,
      `${ns}.bbc`,
      `${ns}.cbc`,
    ]);
    expect((await index.listTasks(`${ns}.abc`)).tasks).toHaveLength(2);
  });

  it('pages namespaces and tasks with limit and continuationToken', async () => {
    const index = indexClient(ty);
    const ns = freshNamespace();
    for (let i = 0; i < 5; i++) {
      await index.insertTask(`${ns}.t${i}`, {
        taskId: newTaskId(),
        rank: i,
        data: {},
        expires: fromNow(ty, DAY),
      });
      await index.insertTask(`${ns}.n${i}.x`, {
        taskId: newTaskId(),
        rank: i,
        data: {},
        expires: fromNow(ty, DAY),
      });
    }
    const collect = async (
      list: (q: Record<string, unknown>) => Promise<Record<string, unknown>>,
      key: string,
    ) => {
      const seen: string[] = [];
      let query: Record<string, unknown> = { limit: 2 };
      let pages = 0;
      for (;;) {
        const page = await list(query);
        pages++;
        seen.push(...(page[key] as Array<{ namespace: string }>).map((e) => e.namespace));
        if (!page.continuationToken) break;
        query = { limit: 2, continuationToken: page.continuationToken };
      }
      return { seen, pages };
    };
    const tasks = await collect((q) => index.listTasks(ns, q), 'tasks');
    expect(tasks.seen).toEqual([0, 1, 2, 3, 4].map((i) => `${ns}.t${i}`));
    expect(tasks.pages).toBe(3);
    const namespaces = await collect((q) => index.listNamespaces(ns, q), 'namespaces');
    expect(namespaces.seen).toEqual([0, 1, 2, 3, 4].map((i) => `${ns}.n${i}`));
    const err = await rejection(index.listTasks(ns, { continuationToken: 'not-a-token' }));
    expect(err.statusCode).toBe(400);
  });

  it('lists the top level with an empty namespace', async () => {
    const index = indexClient(ty);
    const ns = freshNamespace('top');
    await index.insertTask(`${ns}.x`, { taskId: newTaskId(), rank: 0, data: {}, expires: fromNow(ty, DAY) });
    await index.insertTask(ns, { taskId: newTaskId(), rank: 0, data: {}, expires: fromNow(ty, DAY) });
    const names: string[] = [];
    let query: Record<string, unknown> = {};
    for (;;) {
      const page = await index.listNamespaces('', query);
      names.push(...page.namespaces.map((n: { namespace: string }) => n.namespace));
      if (!page.continuationToken) break;
      query = { continuationToken: page.continuationToken };
    }
    expect(names).toContain(ns);
    expect((await index.listTasks('')).tasks.map((t: { namespace: string }) => t.namespace)).toContain(ns);
  });
});

describe('finding tasks at several index paths', () => {
  it('answers the entries in the order asked, leaving out missing and expired ones, a page at a time', async () => {
    const index = indexClient(ty);
    const ns = freshNamespace();
    const live = fromNow(ty, 20 * DAY);
    await index.insertTask(`${ns}.my-task`, { taskId: newTaskId(), rank: 40, data: {}, expires: live });
    const task1 = await index.insertTask(`${ns}.my-task`, {
      taskId: newTaskId(),
      rank: 41,
      data: { a: 1 },
      expires: live,
    });
    await index.insertTask(`${ns}.my-task2`, { taskId: newTaskId(), rank: 42, data: {}, expires: live });
    await index.insertTask(`${ns}.expired`, {
      taskId: newTaskId(),
      rank: 1,
      data: {},
      expires: fromNow(ty, -DAY),
    });
    const task3 = await index.insertTask(`${ns}.my-task3`, {
      taskId: newTaskId(),
      rank: 43,
      data: {},
      expires: live,
    });
    const indexes = [`${ns}.my-task3`, `${ns}.missing`, `${ns}.expired`, `${ns}.my-task`];
    expect(await index.findTasksAtIndex({ indexes })).toEqual({ tasks: [task3, task1] });

    const first = await index.findTasksAtIndex({ indexes }, { limit: 1 });
    expect(first.tasks).toEqual([task3]);
    const second = await index.findTasksAtIndex(
      { indexes },
      { limit: 1, continuationToken: first.continuationToken },
    );
    expect(second).toEqual({ tasks: [task1] });
    // With other indexes the token has no effect.
    const other = await index.findTasksAtIndex(
      { indexes: [`${ns}.my-task`] },
      { limit: 1, continuationToken: first.continuationToken },
    );
    expect(other.tasks).toEqual([task1]);
    expect(await index.findTasksAtIndex({ indexes: [] })).toEqual({ tasks: [] });
  });

  it('requires index:find-task for every path asked', async () => {
    const ns = freshNamespace();
    const creds = await makeClient(ty, `index/finder-${ns}`, [`index:find-task:${ns}.ok.*`]);
    const index = indexClient(ty, creds);
    expect(await index.findTasksAtIndex({ indexes: [`${ns}.ok.a`] })).toEqual({ tasks: [] });
    const err = await rejection(index.findTasksAtIndex({ indexes: [`${ns}.ok.a`, `${ns}.secret.b`] }));
    expect(err.code).toBe('InsufficientScopes');
  });
});

describe('bad index paths', () => {
  it('refuses them with a 400 naming the problem, and stores nothing', async () => {
    const index = indexClient(ty);
    const entry = { taskId: newTaskId(), rank: 0, data: {}, expires: fromNow(ty, DAY) };
    const ns = freshNamespace();
    const cases: Array<[string, RegExp]> = [
      [`${ns}..b`, /segment 2 is empty/],
      [`${ns}.b.`, /segment 3 is empty/],
      [`${ns}.slash/things-are-ignored`, /segment 2 .*"\/"/],
      [`${ns}.sp ace`, /segment 2 .*" "/],
      [`${ns}.${'x'.repeat(260)}`, /at most 255/],
    ];
    for (const [path, message] of cases) {
      for (const call of [
        () => index.insertTask(path, entry),
        () => index.findTask(path),
        () => index.deleteTask(path),
      ]) {
        const err = await rejection(call());
        expect(err.statusCode, path).toBe(400);
        expect(err.message).toMatch(message);
      }
    }
    expect((await rejection(index.listTasks(`${ns}.`))).statusCode).toBe(400);
    expect((await rejection(index.listNamespaces(`.${ns}`))).statusCode).toBe(400);
    expect((await rejection(index.findTasksAtIndex({ indexes: [`${ns}..x`] }))).message).toMatch(
      /indexes\[0\]/,
    );
    expect((await index.listNamespaces(ns)).namespaces).toEqual([]);
  });

  it('refuses a bad body with a 400', async () => {
    const index = indexClient(ty);
    const path = `${freshNamespace()}.x`;
    const expires = fromNow(ty, DAY);
    for (const body of [
      { taskId: 'not-a-slugid', rank: 0, data: {}, expires },
      { taskId: newTaskId(), rank: '1', data: {}, expires },
      { taskId: newTaskId(), rank: 0, data: [], expires },
      { taskId: newTaskId(), rank: 0, data: {}, expires: 'tomorrow' },
      { taskId: newTaskId(), rank: 0, data: {} },
    ]) {
      expect((await rejection(index.insertTask(path, body))).statusCode, JSON.stringify(body)).toBe(400);
    }
  });
});

import { Type } from '@sinclair/typebox';
import { describe, expect, it } from 'vitest';
import {
  buildRoutingKey,
  checkServiceExchanges,
  type ExchangeDeclaration,
  exchangePrefix,
  exchangesReference,
  reservedPart,
  routingKeyKindPart,
  routingKeyPattern,
  type ServiceExchanges,
} from '../../../src/platform/events/exchanges.ts';
import { taskDefined, testService } from '../../helpers/events.ts';

interface ClientReference {
  entries: Array<{ name: string; routingKey: unknown[]; schema: string }>;
  [key: string]: unknown;
}

// The official client (an untyped ES module) carries the upstream references: ground truth for the wire format.
const clientModule = 'taskcluster-client';
const apisModule = 'taskcluster-client/src/apis.js';
const apis = (await import(apisModule)).default as Record<string, { reference: ClientReference }>;
const client = (await import(clientModule)).default as {
  QueueEvents: new (opts: {
    rootUrl: string;
  }) => { taskDefined(p: Record<string, string>): { routingKeyPattern: string; exchange: string } };
};

const upstreamTaskRoutingKey = [
  routingKeyKindPart,
  { name: 'taskId', summary: '`taskId` for the task this message concerns', required: true, maxSize: 22 },
  ...['runId', 'workerGroup', 'workerId'].map((name) => ({
    name,
    summary: `\`${name}\` of latest run for the task, \`_\` if no run is exists for the task.`,
    maxSize: name === 'runId' ? 3 : 38,
  })),
  {
    name: 'provisionerId',
    summary: '`provisionerId` this task is targeted at.',
    required: true,
    maxSize: 38,
  },
  { name: 'workerType', summary: '`workerType` this task must run on.', required: true, maxSize: 38 },
  { name: 'schedulerId', summary: '`schedulerId` this task was created by.', required: true, maxSize: 38 },
  { name: 'taskGroupId', summary: '`taskGroupId` this task was created in.', required: true, maxSize: 22 },
  reservedPart,
];

const queueLike: ExchangeDeclaration = {
  exchange: 'task-defined',
  name: 'taskDefined',
  title: 'Task Defined Messages',
  description: 'defined',
  routingKey: upstreamTaskRoutingKey,
  schema: Type.Object({}),
};

const queueService: ServiceExchanges = {
  serviceName: 'queue',
  projectName: 'taskcluster-queue',
  title: 'Queue AMQP Exchanges',
  description: 'Queue exchanges',
  exchanges: [queueLike],
};

describe('buildRoutingKey', () => {
  it('joins parts in order, with the constant first, `_` for absent optional parts and numbers as decimals', () => {
    expect(buildRoutingKey(taskDefined, { taskId: 'abc', schedulerId: 'sched', runId: 0 })).toBe(
      'primary.abc.0.sched._',
    );
    expect(buildRoutingKey(taskDefined, { taskId: 'abc', schedulerId: 'sched', runId: null })).toBe(
      'primary.abc._.sched._',
    );
  });

  it('lets only the multi-word part contain dots', () => {
    const decl = {
      ...taskDefined,
      routingKey: [{ name: 'path', summary: 's', multipleWords: true, maxSize: 20 }],
    };
    expect(buildRoutingKey(decl, { path: 'a.b.c' })).toBe('a.b.c');
    expect(() => buildRoutingKey(taskDefined, { taskId: 'a.b', schedulerId: 's' })).toThrow(
      /taskId value "a.b" contains '.'/,
    );
  });

  it('rejects a missing required part, an empty word and a word over maxSize', () => {
    expect(() => buildRoutingKey(taskDefined, { schedulerId: 's' })).toThrow(/taskId is required/);
    expect(() => buildRoutingKey(taskDefined, { taskId: '', schedulerId: 's' })).toThrow(/taskId is empty/);
    expect(() => buildRoutingKey(taskDefined, { taskId: 'x'.repeat(23), schedulerId: 's' })).toThrow(
      /23 bytes, longer than 22/,
    );
    // maxSize counts bytes, as AMQP does: 11 two-byte characters exceed 21 bytes.
    expect(() => buildRoutingKey(taskDefined, { taskId: 'é'.repeat(12), schedulerId: 's' })).toThrow(
      /24 bytes/,
    );
  });

  it('rejects declarations whose worst case exceeds 255 bytes or that have two multi-word parts', () => {
    const tooLong = {
      ...taskDefined,
      routingKey: [
        { name: 'a', summary: 's', maxSize: 200 },
        { name: 'b', summary: 's', maxSize: 55 },
      ],
    };
    expect(() => buildRoutingKey(tooLong, { a: 'x', b: 'y' })).toThrow(/256 bytes including dots/);
    const twoMulti = {
      ...taskDefined,
      routingKey: [
        { name: 'a', summary: 's', multipleWords: true, maxSize: 5 },
        { name: 'b', summary: 's', multipleWords: true, maxSize: 5 },
      ],
    };
    expect(() => buildRoutingKey(twoMulti, {})).toThrow(/only one multipleWords part/);
  });

  it('produces the same binding patterns as the official client', () => {
    const events = new client.QueueEvents({ rootUrl: 'https://tc.example.com' });
    const cases: Array<Record<string, string>> = [
      {},
      { taskId: 'abc' },
      { taskId: 'abc', schedulerId: 's', runId: '2' },
    ];
    for (const values of cases) {
      expect(routingKeyPattern(queueLike, values)).toBe(events.taskDefined(values).routingKeyPattern);
    }
    expect(exchangePrefix(queueService) + queueLike.exchange).toBe(events.taskDefined({}).exchange);
  });
});

describe('exchangesReference', () => {
  it('has the shape of the upstream exchanges-reference-v0 document', () => {
    const ref = exchangesReference(queueService);
    const upstream = apis.QueueEvents.reference;
    expect(Object.keys(ref).sort()).toEqual(Object.keys(upstream).sort());
    expect(ref.$schema).toBe(upstream.$schema);
    expect(ref.exchangePrefix).toBe(upstream.exchangePrefix);
    const upstreamEntry = upstream.entries.find((e) => e.name === 'taskDefined')!;
    expect(Object.keys(ref.entries[0]).sort()).toEqual(Object.keys(upstreamEntry).sort());
    expect(ref.entries[0].routingKey).toEqual(upstreamEntry.routingKey);
    expect(ref.entries[0].schema).toBe('v1/task-defined-message.json#');
    expect(ref.entries[0].schema).toBe(upstreamEntry.schema);
  });

  it('lets the service choose schema paths, e.g. one schema shared by several exchanges', () => {
    const ref = exchangesReference(testService(), { schemaPath: () => 'v1/task-message.json#' });
    expect(ref.entries.map((e) => e.schema)).toEqual(['v1/task-message.json#', 'v1/task-message.json#']);
  });

  it('rejects a service declaring the same exchange twice', () => {
    const svc = testService();
    expect(() => checkServiceExchanges({ ...svc, exchanges: [taskDefined, taskDefined] })).toThrow(
      /declared twice/,
    );
  });
});

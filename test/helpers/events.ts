import { type Static, Type } from '@sinclair/typebox';
import {
  type ExchangeDeclaration,
  type RoutingKeyPart,
  reservedPart,
  routingKeyKindPart,
  type ServiceExchanges,
} from '../../src/platform/events/exchanges.ts';

/** A queue-like test service: its routing keys follow Taskcluster's task exchanges. */
export const taskRoutingKey: RoutingKeyPart[] = [
  routingKeyKindPart,
  { name: 'taskId', summary: '`taskId` for the task this message concerns', required: true, maxSize: 22 },
  {
    name: 'runId',
    summary: '`runId` of latest run for the task, `_` if no run is exists for the task.',
    maxSize: 3,
  },
  { name: 'schedulerId', summary: '`schedulerId` this task was created by.', required: true, maxSize: 38 },
  reservedPart,
];

export const TaskMessage = Type.Object(
  {
    taskId: Type.String({ minLength: 1 }),
    runId: Type.Optional(Type.Integer({ minimum: 0 })),
    seq: Type.Integer(),
    note: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
);
export type TaskMessage = Static<typeof TaskMessage>;

export const taskDefined: ExchangeDeclaration<typeof TaskMessage> = {
  exchange: 'task-defined',
  name: 'taskDefined',
  title: 'Task Defined Messages',
  description: 'A task was defined.',
  routingKey: taskRoutingKey,
  schema: TaskMessage,
};

export const taskCompleted: ExchangeDeclaration<typeof TaskMessage> = {
  exchange: 'task-completed',
  name: 'taskCompleted',
  title: 'Task Completed Messages',
  description: 'A task completed.',
  routingKey: taskRoutingKey,
  schema: TaskMessage,
};

/** A service whose exchanges are unique per call, so AMQP tests never see each other's messages. */
export function testService(suffix = Math.random().toString(36).slice(2, 10)): ServiceExchanges {
  return {
    serviceName: 'testsvc',
    projectName: `taskyard-test-${suffix}`,
    title: 'Test Exchanges',
    description: 'Exchanges used by the test suite.',
    exchanges: [taskDefined, taskCompleted],
  };
}

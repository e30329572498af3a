/** Request and response bodies of the hooks API (Taskcluster's `hooks/v1` schemas). */
import { Type } from '@sinclair/typebox';

const Id = Type.String({ pattern: '^[a-zA-Z0-9-_]{1,1000}$' });
const SlugId = Type.String({
  pattern: '^[A-Za-z0-9_-]{8}[Q-T][A-Za-z0-9_-][CGKOSWaeimquy26-][A-Za-z0-9_-]{10}[AQgw]$',
});
const DateTime = Type.String({ format: 'date-time' });
const AnyObject = Type.Object({}, { additionalProperties: true });

const Metadata = Type.Object(
  {
    name: Type.String({ maxLength: 255 }),
    description: Type.String({ maxLength: 32768 }),
    owner: Type.String({ maxLength: 255, format: 'email' }),
    emailOnError: Type.Optional(Type.Boolean({ default: true })),
  },
  { additionalProperties: false },
);
const Binding = Type.Object(
  { exchange: Type.String({ minLength: 1 }), routingKeyPattern: Type.String({ minLength: 1 }) },
  { additionalProperties: false },
);

const definitionFields = {
  metadata: Metadata,
  schedule: Type.Array(Type.String()),
  task: AnyObject,
  bindings: Type.Array(Binding),
  triggerSchema: AnyObject,
};

export const CreateHookRequest = Type.Object(
  {
    hookGroupId: Type.Optional(Id),
    hookId: Type.Optional(Id),
    metadata: Metadata,
    schedule: Type.Optional(Type.Array(Type.String())),
    task: AnyObject,
    bindings: Type.Optional(Type.Array(Binding)),
    triggerSchema: Type.Optional(AnyObject),
  },
  { $id: 'create-hook-request', additionalProperties: false, title: 'Hook creation request' },
);

export const HookDefinition = Type.Object(
  { hookGroupId: Id, hookId: Id, ...definitionFields },
  { $id: 'hook-definition', additionalProperties: false, title: 'Hook definition' },
);

export const ListHooksResponse = Type.Object(
  {
    hooks: Type.Array(
      Type.Object({ hookGroupId: Id, hookId: Id, ...definitionFields }, { additionalProperties: false }),
    ),
  },
  { $id: 'list-hooks-response', additionalProperties: false },
);

export const ListHookGroupsResponse = Type.Object(
  { groups: Type.Array(Type.String()) },
  { $id: 'list-hook-groups-response', additionalProperties: false },
);

export const HookStatus = Type.Object(
  {
    lastFire: Type.Union([
      Type.Object(
        { result: Type.Literal('success'), taskId: SlugId, time: DateTime },
        { additionalProperties: false },
      ),
      Type.Object(
        { result: Type.Literal('error'), error: Type.Unknown(), time: DateTime },
        { additionalProperties: false },
      ),
      Type.Object({ result: Type.Literal('no-fire') }, { additionalProperties: false }),
    ]),
    nextScheduledDate: Type.Optional(DateTime),
  },
  { $id: 'hook-status', additionalProperties: false },
);

export const TriggerHookRequest = Type.Object({}, { $id: 'trigger-hook', additionalProperties: true });

export const TriggerHookResponse = Type.Union(
  [
    Type.Object(
      {
        taskId: SlugId,
        status: Type.Optional(
          Type.Object({ taskId: Type.Optional(SlugId) }, { additionalProperties: false }),
        ),
      },
      { additionalProperties: false },
    ),
    Type.Object({}, { additionalProperties: false }),
  ],
  { $id: 'trigger-hook-response' },
);

export const TriggerTokenResponse = Type.Object(
  { token: Type.String() },
  { $id: 'trigger-token-response', additionalProperties: false },
);

export const ListLastFiresResponse = Type.Object(
  {
    lastFires: Type.Array(
      Type.Object(
        {
          hookGroupId: Id,
          hookId: Id,
          firedBy: Type.String(),
          taskId: SlugId,
          taskCreateTime: DateTime,
          result: Type.Union([Type.Literal('success'), Type.Literal('error')]),
          error: Type.String(),
        },
        { additionalProperties: false },
      ),
    ),
    continuationToken: Type.Optional(Type.String()),
  },
  { $id: 'list-lastFires-response', additionalProperties: false },
);

export const PageQuery = Type.Object({
  continuationToken: Type.Optional(Type.String({ minLength: 1 })),
  limit: Type.Optional(Type.Integer({ minimum: 0 })),
});

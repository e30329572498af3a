/** The hooks service's exchanges: a message whenever a hook is created, updated or deleted. */
import { Type } from '@sinclair/typebox';
import type { Queryable } from '../../platform/db/index.ts';
import {
  type ExchangeDeclaration,
  enqueueEvent,
  reservedPart,
  type ServiceExchanges,
} from '../../platform/events/index.ts';

export const HookChangedMessage = Type.Object(
  {
    hookGroupId: Type.String({ description: '`hookGroupId` of the hook that was changed' }),
    hookId: Type.String({ description: '`hookId` of the hook that was changed' }),
  },
  {
    $id: 'pulse-hook-changed-message',
    title: 'Hook Changed Message',
    description: 'Message reporting that a hook has changed',
    additionalProperties: true,
  },
);

type Verb = 'created' | 'updated' | 'deleted';

function change(verb: Verb): ExchangeDeclaration<typeof HookChangedMessage> {
  const Verb = verb[0].toUpperCase() + verb.slice(1);
  return {
    exchange: `hook-${verb}`,
    name: `hook${Verb}`,
    title: `Hook ${Verb} Messages`,
    description:
      `Published when a hook is ${verb}, in the same transaction as the change. Hooks processes ` +
      'use it to update the pulse bindings of the hook; it is also there for monitoring.',
    routingKey: [reservedPart],
    schema: HookChangedMessage,
  };
}

export const hooksExchanges = {
  serviceName: 'hooks',
  projectName: 'taskcluster-hooks',
  title: 'Exchanges to manage hooks',
  description:
    'Messages about hooks being created, updated and deleted (the message names the hook; fetch it ' +
    'for its definition).',
  exchanges: [change('created'), change('updated'), change('deleted')],
} satisfies ServiceExchanges;

/** Records the change message in `tx` (published once it commits). */
export async function enqueueHookChanged(
  tx: Queryable,
  verb: Verb,
  hookGroupId: string,
  hookId: string,
): Promise<void> {
  const decl = hooksExchanges.exchanges.find((e) => e.exchange === `hook-${verb}`)!;
  await enqueueEvent(tx, hooksExchanges, decl, { hookGroupId, hookId }, {});
}

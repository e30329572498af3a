import {
  type ExchangeDeclaration,
  reservedPart,
  type ServiceExchanges,
} from '../../platform/events/index.ts';
import { ClientMessage, RoleMessage } from './schemas.ts';

function change(entity: 'client' | 'role', verb: 'created' | 'updated' | 'deleted'): ExchangeDeclaration {
  const Entity = entity === 'client' ? 'Client' : 'Role';
  return {
    exchange: `${entity}-${verb}`,
    name: `${entity}${verb[0].toUpperCase()}${verb.slice(1)}`,
    title: `${Entity} ${verb[0].toUpperCase()}${verb.slice(1)} Messages`,
    description: `A message published whenever a ${entity} is ${verb}. It names the ${entity}; fetch it for the details.`,
    routingKey: [reservedPart],
    schema: entity === 'client' ? ClientMessage : RoleMessage,
  };
}

export const authExchanges = {
  serviceName: 'auth',
  projectName: 'taskcluster-auth',
  title: 'Auth Pulse Exchanges',
  description: 'Messages about changes to clients and roles.',
  exchanges: [
    change('client', 'created'),
    change('client', 'updated'),
    change('client', 'deleted'),
    change('role', 'created'),
    change('role', 'updated'),
    change('role', 'deleted'),
  ],
} satisfies ServiceExchanges;

export const exchangeByName = (name: string): ExchangeDeclaration => {
  const decl = authExchanges.exchanges.find((e) => e.exchange === name);
  if (!decl) throw new Error(`no auth exchange ${name}`);
  return decl;
};

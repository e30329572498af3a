/** The hooks API: CRUD of hooks, their status, triggering, trigger tokens and last fires. */
import { randomBytes } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import slugid from 'slugid';
import { decodeContinuation, encodeContinuation, pageSize } from '../../platform/api/pagination.ts';
import { type EndpointDeclaration, endpoint } from '../../platform/api/types.ts';
import { ApiError } from '../../platform/errors.ts';
import { nextDate, scheduleEntryProblem } from './cron.ts';
import * as db from './db.ts';
import { enqueueHookChanged } from './events.ts';
import { type FiredBy, fireHook, type HooksContext } from './fire.ts';
import { notifyHooksChanged } from './listeners.ts';
import {
  CreateHookRequest,
  HookDefinition,
  HookStatus,
  ListHookGroupsResponse,
  ListHooksResponse,
  ListLastFiresResponse,
  PageQuery,
  TriggerHookRequest,
  TriggerHookResponse,
  TriggerTokenResponse,
} from './schemas.ts';
import { bindingsProblem, templateProblem, triggerPayloadProblem, triggerValidator } from './validation.ts';

const CATEGORY = 'Hooks Service';
const ID = /^[a-zA-Z0-9-_]{1,1000}$/;
const params = { hookGroupId: ID, hookId: ID };

export const newToken = () => randomBytes(33).toString('base64url');

function checkSchedule(schedule: string[]) {
  for (const [i, s] of schedule.entries()) {
    const problem = scheduleEntryProblem(s);
    if (problem) {
      throw new ApiError('InputError', `Invalid schedule[${i}] ${JSON.stringify(s)}: ${problem}`);
    }
  }
  if (new Set(schedule).size !== schedule.length) {
    throw new ApiError('InputError', 'schedule lists an entry twice');
  }
}

export function hookJson(h: db.HookRow) {
  return {
    hookGroupId: h.hookGroupId,
    hookId: h.hookId,
    metadata: h.metadata,
    schedule: h.schedule,
    task: h.task,
    bindings: h.bindings,
    triggerSchema: h.triggerSchema,
  };
}

export function hooksEndpoints(ctx: HooksContext): EndpointDeclaration[] {
  async function getOr404(g: string, h: string): Promise<db.HookRow> {
    const hook = await db.getHook(ctx.database, g, h);
    if (!hook) throw new ApiError('ResourceNotFound', `No such hook ${g}/${h}`);
    return hook;
  }

  function definition(
    g: string,
    h: string,
    body: typeof CreateHookRequest.static,
    prev?: db.HookRow,
  ): db.HookRow {
    if ((body.hookGroupId && body.hookGroupId !== g) || (body.hookId && body.hookId !== h)) {
      throw new ApiError('InputError', 'hookGroupId and hookId in the body must match the URL');
    }
    const schedule = body.schedule ?? [];
    checkSchedule(schedule);
    const triggerSchema = body.triggerSchema ?? {
      type: 'object',
      properties: {},
      additionalProperties: false,
    };
    try {
      triggerValidator(triggerSchema);
    } catch (err) {
      throw new ApiError('InputError', `triggerSchema is not a valid JSON schema: ${(err as Error).message}`);
    }
    // As upstream, an update without bindings keeps the hook's bindings.
    const bindings = body.bindings ?? prev?.bindings ?? [];
    const bindingError = bindingsProblem(bindings);
    if (bindingError) throw new ApiError('InputError', `Invalid bindings: ${bindingError}`);
    const templateError = templateProblem(body.task);
    if (templateError) throw new ApiError('InputError', `Invalid task template: ${templateError}`);
    const sameSchedule = prev && JSON.stringify(prev.schedule) === JSON.stringify(schedule);
    return {
      hookGroupId: g,
      hookId: h,
      metadata: { emailOnError: true, ...body.metadata },
      task: body.task,
      bindings,
      schedule,
      triggerSchema,
      triggerToken: prev?.triggerToken ?? newToken(),
      nextScheduledDate: sameSchedule ? prev.nextScheduledDate : nextDate(schedule, ctx.now()),
      nextTaskId: sameSchedule ? prev.nextTaskId : slugid.nice(),
    };
  }

  async function trigger(hook: db.HookRow, firedBy: FiredBy, payload: unknown, clientId?: string) {
    const problem = triggerPayloadProblem(hook.triggerSchema, payload);
    if (problem) {
      throw new ApiError('InputError', `Trigger payload does not match the hook's triggerSchema: ${problem}`);
    }
    const result = await fireHook(ctx, hook, firedBy, payload, { clientId });
    if (result.error) {
      throw new ApiError('InputError', `Could not fire the hook: ${result.error}`);
    }
    return result.taskId ? { taskId: result.taskId, status: { taskId: result.taskId } } : {};
  }

  const createOrUpdate = (method: 'put' | 'post') =>
    endpoint({
      name: method === 'put' ? 'createHook' : 'updateHook',
      method,
      route: '/hooks/<hookGroupId>/<hookId>',
      params,
      scopes: {
        AllOf: ['hooks:modify-hook:<hookGroupId>/<hookId>', 'assume:hook-id:<hookGroupId>/<hookId>'],
      },
      input: CreateHookRequest,
      output: HookDefinition,
      title: method === 'put' ? 'Create a hook' : 'Update a hook',
      description:
        method === 'put'
          ? 'Creates a hook; 409 when a different hook exists with the id (the same definition again is fine).'
          : 'Replaces the definition of an existing hook (404 when there is none).',
      stability: 'stable',
      category: CATEGORY,
      handler: async ({ params: p, body }) => {
        const g = p.hookGroupId!;
        const h = p.hookId!;
        return ctx.database.transaction(async (tx) => {
          const prev = await db.getHook(tx, g, h, true);
          if (method === 'put') {
            const row = definition(g, h, body);
            if (prev) {
              const same = isDeepStrictEqual(hookJson(prev), hookJson(row));
              if (!same) throw new ApiError('RequestConflict', `Hook ${g}/${h} already exists`);
              return hookJson(prev);
            }
            if (!(await db.insertHook(tx, row)))
              throw new ApiError('RequestConflict', `Hook ${g}/${h} already exists`);
            await enqueueHookChanged(tx, 'created', g, h);
            if (row.bindings.length > 0) await notifyHooksChanged(tx);
            return hookJson(row);
          }
          if (!prev) throw new ApiError('ResourceNotFound', `No such hook ${g}/${h}`);
          const row = definition(g, h, body, prev);
          await db.updateHook(tx, row);
          await enqueueHookChanged(tx, 'updated', g, h);
          if (prev.bindings.length > 0 || row.bindings.length > 0) await notifyHooksChanged(tx);
          return hookJson(row);
        });
      },
    });

  return [
    endpoint({
      name: 'listHookGroups',
      method: 'get',
      route: '/hooks',
      scopes: 'hooks:list-hooks:',
      output: ListHookGroupsResponse,
      title: 'List hook groups',
      description: 'The hook groups that have hooks.',
      stability: 'stable',
      category: CATEGORY,
      handler: async () => ({ groups: await db.listGroups(ctx.database) }),
    }),
    endpoint({
      name: 'listHooks',
      method: 'get',
      route: '/hooks/<hookGroupId>',
      params: { hookGroupId: ID },
      scopes: 'hooks:list-hooks:<hookGroupId>',
      output: ListHooksResponse,
      title: 'List hooks in a given group',
      description: 'The hooks of a group (404 when it has none).',
      stability: 'stable',
      category: CATEGORY,
      handler: async ({ params: p }) => {
        const hooks = await db.listHooks(ctx.database, p.hookGroupId!);
        if (hooks.length === 0) throw new ApiError('ResourceNotFound', `No such hook group ${p.hookGroupId}`);
        return { hooks: hooks.map(hookJson) };
      },
    }),
    endpoint({
      name: 'hook',
      method: 'get',
      route: '/hooks/<hookGroupId>/<hookId>',
      params,
      scopes: 'hooks:get:<hookGroupId>:<hookId>',
      output: HookDefinition,
      title: 'Get hook definition',
      description: 'The definition of a hook.',
      stability: 'stable',
      category: CATEGORY,
      handler: async ({ params: p }) => hookJson(await getOr404(p.hookGroupId!, p.hookId!)),
    }),
    endpoint({
      name: 'getHookStatus',
      method: 'get',
      route: '/hooks/<hookGroupId>/<hookId>/status',
      params,
      scopes: 'hooks:status:<hookGroupId>/<hookId>',
      output: HookStatus,
      title: 'Get hook status',
      description: 'The outcome of the latest fire of a hook and when it is next scheduled.',
      stability: 'deprecated',
      category: CATEGORY,
      handler: async ({ params: p }) => {
        const hook = await getOr404(p.hookGroupId!, p.hookId!);
        const [last] = await db.listLastFires(ctx.database, hook.hookGroupId, hook.hookId, undefined, 1);
        const lastFire = !last
          ? { result: 'no-fire' as const }
          : last.result === 'success'
            ? { result: 'success' as const, taskId: last.taskId, time: last.taskCreateTime.toJSON() }
            : {
                result: 'error' as const,
                error: { message: last.error },
                time: last.taskCreateTime.toJSON(),
              };
        return {
          lastFire,
          ...(hook.nextScheduledDate ? { nextScheduledDate: hook.nextScheduledDate.toJSON() } : {}),
        };
      },
    }),
    createOrUpdate('put'),
    createOrUpdate('post'),
    endpoint({
      name: 'removeHook',
      method: 'delete',
      route: '/hooks/<hookGroupId>/<hookId>',
      params,
      scopes: 'hooks:modify-hook:<hookGroupId>/<hookId>',
      title: 'Delete a hook',
      description: 'Deletes a hook (and its last fires); deleting a missing hook succeeds.',
      stability: 'stable',
      category: CATEGORY,
      handler: async ({ params: p }) => {
        await ctx.database.transaction(async (tx) => {
          const prev = await db.getHook(tx, p.hookGroupId!, p.hookId!, true);
          if (!prev) return;
          await db.deleteHook(tx, p.hookGroupId!, p.hookId!);
          await enqueueHookChanged(tx, 'deleted', p.hookGroupId!, p.hookId!);
          if (prev.bindings.length > 0) await notifyHooksChanged(tx);
        });
        return undefined;
      },
    }),
    endpoint({
      name: 'triggerHook',
      method: 'post',
      route: '/hooks/<hookGroupId>/<hookId>/trigger',
      params,
      scopes: 'hooks:trigger-hook:<hookGroupId>/<hookId>',
      input: TriggerHookRequest,
      output: TriggerHookResponse,
      title: 'Trigger a hook',
      description:
        'Fires a hook with the given payload (checked against its triggerSchema) as `payload` in the ' +
        'JSON-e context; returns the taskId created, or `{}` when the template rendered to null.',
      stability: 'stable',
      category: CATEGORY,
      handler: async ({ params: p, body, clientId }) =>
        trigger(await getOr404(p.hookGroupId!, p.hookId!), 'triggerHook', body, clientId),
    }),
    endpoint({
      name: 'getTriggerToken',
      method: 'get',
      route: '/hooks/<hookGroupId>/<hookId>/token',
      params,
      scopes: 'hooks:get-trigger-token:<hookGroupId>/<hookId>',
      output: TriggerTokenResponse,
      title: 'Get a trigger token',
      description: 'The token with which anyone may trigger the hook (triggerHookWithToken).',
      stability: 'stable',
      category: CATEGORY,
      handler: async ({ params: p }) => ({ token: (await getOr404(p.hookGroupId!, p.hookId!)).triggerToken }),
    }),
    endpoint({
      name: 'resetTriggerToken',
      method: 'post',
      route: '/hooks/<hookGroupId>/<hookId>/token',
      params,
      scopes: 'hooks:reset-trigger-token:<hookGroupId>/<hookId>',
      output: TriggerTokenResponse,
      title: 'Reset a trigger token',
      description: 'Replaces the trigger token of a hook with a new one (the old one stops working).',
      stability: 'stable',
      category: CATEGORY,
      handler: async ({ params: p }) => {
        const token = newToken();
        const res = await ctx.database.query(
          'update hooks set trigger_token = $3 where hook_group_id = $1 and hook_id = $2',
          [p.hookGroupId, p.hookId, token],
        );
        if (res.rowCount === 0)
          throw new ApiError('ResourceNotFound', `No such hook ${p.hookGroupId}/${p.hookId}`);
        return { token };
      },
    }),
    endpoint({
      name: 'triggerHookWithToken',
      method: 'post',
      route: '/hooks/<hookGroupId>/<hookId>/trigger/<token>',
      params,
      scopes: null,
      input: TriggerHookRequest,
      output: TriggerHookResponse,
      title: 'Trigger a hook with a token',
      description: "Like triggerHook, authorized by the hook's trigger token instead of scopes.",
      stability: 'stable',
      category: CATEGORY,
      handler: async ({ params: p, body }) => {
        const hook = await db.getHook(ctx.database, p.hookGroupId!, p.hookId!);
        if (!hook || hook.triggerToken !== p.token) {
          throw new ApiError('InsufficientScopes', 'No such hook, or the token is wrong');
        }
        return trigger(hook, 'triggerHookWithToken', body);
      },
    }),
    endpoint({
      name: 'listLastFires',
      method: 'get',
      route: '/hooks/<hookGroupId>/<hookId>/last-fires',
      params,
      query: PageQuery,
      scopes: 'hooks:list-last-fires:<hookGroupId>/<hookId>',
      output: ListLastFiresResponse,
      title: 'Get information about recent hook fires',
      description: 'The recent fires of a hook, newest first, with their outcome; at most 1000 a page.',
      stability: 'stable',
      category: CATEGORY,
      handler: async ({ params: p, query }) => {
        await getOr404(p.hookGroupId!, p.hookId!);
        const limit = pageSize(query.limit);
        const before = decodeContinuation(
          query.continuationToken,
          (v): v is { before: string } => typeof v.before === 'string',
        );
        const rows = await db.listLastFires(
          ctx.database,
          p.hookGroupId!,
          p.hookId!,
          before?.before,
          limit + 1,
        );
        const page = rows.slice(0, limit);
        return {
          lastFires: page.map((r) => ({
            hookGroupId: r.hookGroupId,
            hookId: r.hookId,
            firedBy: r.firedBy,
            taskId: r.taskId,
            taskCreateTime: r.taskCreateTime.toJSON(),
            result: r.result,
            error: r.error,
          })),
          ...(rows.length > limit
            ? { continuationToken: encodeContinuation({ before: page.at(-1)!.id }) }
            : {}),
        };
      },
    }),
  ];
}

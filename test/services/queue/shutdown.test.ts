import { describe, expect, it } from 'vitest';
import { queueClient } from '../../helpers/queue.ts';
import { startTestTaskyard } from '../../helpers/taskyard.ts';

describe('stopping the server', () => {
  it('answers a waiting claimWork with no task instead of keeping shutdown waiting for the long poll', async () => {
    const ty = await startTestTaskyard();
    const queue = queueClient(ty);
    const waiting = queue.claimWork('test-prov/idle-queue', { workerGroup: 'wg', workerId: 'w1', tasks: 1 });
    await new Promise((r) => setTimeout(r, 300));
    const started = Date.now();
    await ty.stop();
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(await waiting).toEqual({ tasks: [] });
  });
});

import { describe, expect, it } from 'vitest';
import { Batcher, type Outcome } from '../../src/platform/batcher.ts';

/** A write whose calls the test finishes by hand, recording each batch it was given. */
function manualWrite() {
  const calls: Array<{
    items: number[];
    finish(outcomes?: Array<Outcome<string>>): void;
    fail(e: Error): void;
  }> = [];
  const write = (items: number[]) =>
    new Promise<Array<Outcome<string>>>((resolve, reject) => {
      calls.push({
        items,
        finish: (outcomes) => resolve(outcomes ?? items.map((i) => ({ value: `done ${i}` }))),
        fail: reject,
      });
    });
  return { calls, write };
}

const tick = () => new Promise((r) => setImmediate(r));

describe('Batcher', () => {
  it('writes at once while a slot is free, and gathers what arrives while all are busy into the next batch', async () => {
    const { calls, write } = manualWrite();
    const batcher = new Batcher(write, { maxBatch: 3, concurrency: 2 });
    const answers = [1, 2].map((i) => batcher.submit(i));
    await tick();
    // Two slots: each of the first two items went out alone.
    expect(calls.map((c) => c.items)).toEqual([[1], [2]]);
    const later = [3, 4, 5, 6].map((i) => batcher.submit(i));
    await tick();
    expect(calls).toHaveLength(2);
    calls[0].finish();
    await tick();
    // The freed slot takes the waiting items, at most maxBatch of them.
    expect(calls.map((c) => c.items)).toEqual([[1], [2], [3, 4, 5]]);
    calls[1].finish();
    await tick();
    expect(calls[3].items).toEqual([6]);
    calls[2].finish();
    calls[3].finish();
    expect(await Promise.all([...answers, ...later])).toEqual([1, 2, 3, 4, 5, 6].map((i) => `done ${i}`));
    expect(batcher.idle).toBe(true);
  });

  it('gives each item its own outcome, fails a whole batch when the write throws, and calls onIdle', async () => {
    const { calls, write } = manualWrite();
    let idle = 0;
    const batcher = new Batcher(write, { maxBatch: 10, concurrency: 1, onIdle: () => idle++ });
    const first = batcher.submit(1);
    await tick();
    const [a, b, c] = [2, 3, 4].map((i) => batcher.submit(i));
    calls[0].finish();
    expect(await first).toBe('done 1');
    await tick();
    expect(calls[1].items).toEqual([2, 3, 4]);
    calls[1].finish([{ value: 'ok' }, { error: new Error('409 for 3') }]);
    await expect(a).resolves.toBe('ok');
    await expect(b).rejects.toThrow('409 for 3');
    // The write gave no outcome for the third item: it fails rather than hanging.
    await expect(c).rejects.toThrow(/no outcome/);
    const d = batcher.submit(5);
    await tick();
    calls[2].fail(new Error('connection lost'));
    await expect(d).rejects.toThrow('connection lost');
    await tick();
    expect(batcher.idle).toBe(true);
    expect(idle).toBe(2);
  });
});

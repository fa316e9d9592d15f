import { describe, expect, it } from 'vitest';
import { IdleWatch } from './idle.svelte';

describe('IdleWatch', () => {
  it('is due only after the timeout without input, and restarts after a wipe', () => {
    const w = new IdleWatch(1_000, 120_000);
    expect(w.due(120_999)).toBe(false);
    w.touch(60_000);
    expect(w.due(121_000)).toBe(false);
    expect(w.due(180_000)).toBe(true);
    w.wiped(180_000);
    expect(w.wipes).toBe(1);
    expect(w.due(180_001)).toBe(false);
  });
});

import { describe, expect, it } from 'vitest';
import type { OverrideView } from '../bindings/OverrideView';
import { computeDashboard } from './dashboard';

const NOW = Date.UTC(2026, 10, 28, 12);
const H = 3_600_000;

function c(id: string, operator: string, supervisor: string, trigger: string, grantedAtMs: number, reviewAfterH: number | null): OverrideView {
  const expiresAtMs = grantedAtMs + H;
  return {
    id, sessionId: `s-${id}`, operator, supervisor, trigger, requestedScope: ['p'], scope: ['p'],
    grantedAtMs, expiresAtMs, reviewDueMs: expiresAtMs + 72 * H, reasonCode: 'ENVIRONMENT', note: 'n', ticket: null,
    compensatingControl: 'c', status: 'expired', remainingMs: 0,
    review: reviewAfterH === null ? null : { reviewer: 'rita', atMs: expiresAtMs + reviewAfterH * H, disposition: 'justified', notes: 'ok' },
    reviewOverdue: false, reconciled: false, closed: reviewAfterH !== null, nowMs: NOW,
  } as OverrideView;
}

describe('computeDashboard', () => {
  it('counts per day, trigger and supervisor, times reviews, finds recurring pairs', () => {
    const cases = [
      c('1', 'olga', 'sam', 'failure_limit', NOW - 2 * H, 2),
      c('2', 'olga', 'sam', 'device_unavailable', NOW - 26 * H, 4),
      c('3', 'otto', 'sue', 'failure_limit', NOW - 27 * H, null),
    ];
    const d = computeDashboard(cases, NOW, 3);
    expect(d.total).toBe(3);
    expect(d.perDay).toEqual([
      { label: '2026-11-26', value: 0 },
      { label: '2026-11-27', value: 2 },
      { label: '2026-11-28', value: 1 },
    ]);
    expect(d.byTrigger).toEqual([
      { label: 'failure_limit', value: 2 },
      { label: 'device_unavailable', value: 1 },
    ]);
    expect(d.bySupervisor[0]).toEqual({ label: 'sam', value: 2 });
    expect(d.reviewHours).toEqual({ median: 3, max: 4, reviewed: 2, pending: 1 });
    expect(d.recurringPairs).toEqual([{ label: 'olga ← sam', value: 2 }]);
  });

  it('is empty without cases', () => {
    const d = computeDashboard([], NOW, 2);
    expect(d.perDay.map((b) => b.value)).toEqual([0, 0]);
    expect(d.reviewHours.median).toBeNull();
    expect(d.recurringPairs).toEqual([]);
  });
});

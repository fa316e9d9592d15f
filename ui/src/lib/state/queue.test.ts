import { describe, expect, it } from 'vitest';
import type { GrantState, OverrideView } from '../bindings/OverrideView';
import { reviewQueue } from './queue';

const H = 3_600_000;
const NOW = Date.UTC(2026, 11, 7, 12);

function c(id: string, status: GrantState, reviewDueMs: number, reviewOverdue: boolean): OverrideView {
  return {
    id, sessionId: `s-${id}`, operator: 'olga', supervisor: 'sam', trigger: 'failure_limit',
    requestedScope: ['p'], scope: ['p'], grantedAtMs: NOW - 2 * H, expiresAtMs: NOW - H, reviewDueMs,
    reasonCode: 'ENVIRONMENT', note: 'n', ticket: null, compensatingControl: 'c', status,
    remainingMs: 0, review: null, reviewOverdue, reconciled: false, closed: false, nowMs: NOW,
  };
}

describe('reviewQueue', () => {
  it('puts overdue cases first, oldest due first, and live grants last', () => {
    const queue = reviewQueue([
      c('live', 'active', NOW + 80 * H, false),
      c('due-later', 'expired', NOW + 48 * H, false),
      c('overdue-recent', 'used', NOW - H, true),
      c('due-soon', 'revoked', NOW + 2 * H, false),
      c('overdue-old', 'expired', NOW - 30 * H, true),
    ]);
    expect(queue.map((x) => x.id)).toEqual(['overdue-old', 'overdue-recent', 'due-soon', 'due-later', 'live']);
  });

  it('does not reorder the array it was given', () => {
    const input = [c('b', 'expired', NOW, false), c('a', 'expired', NOW - H, true)];
    reviewQueue(input);
    expect(input.map((x) => x.id)).toEqual(['b', 'a']);
  });
});

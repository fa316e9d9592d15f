// The reviewer's queue: what needs a reviewer first. Overdue cases lead
// (the oldest due date first), then the ones still within their review
// window by due date, and last the grants still in force, which cannot be
// reviewed until they have ended.
import type { OverrideView } from '../bindings/OverrideView';

function rank(c: OverrideView): number {
  if (c.status === 'active') return 2;
  return c.reviewOverdue ? 0 : 1;
}

export function reviewQueue(cases: readonly OverrideView[]): OverrideView[] {
  return [...cases].sort(
    (a, b) => rank(a) - rank(b) || a.reviewDueMs - b.reviewDueMs || a.id.localeCompare(b.id),
  );
}

// The reviewer dashboard's figures, computed from the override cases:
// overrides per day, by trigger, by supervisor, time to review, and the
// operator-supervisor pairs that recur (a pair that keeps overriding is what
// a reviewer should look at first: a standing back door in the making).
import type { OverrideView } from '../bindings/OverrideView';

export interface Bar {
  label: string;
  value: number;
}

export interface Dashboard {
  total: number;
  perDay: Bar[];
  byTrigger: Bar[];
  bySupervisor: Bar[];
  /** Hours from the grant's end to its review, reviewed cases only. */
  reviewHours: { median: number | null; max: number | null; reviewed: number; pending: number };
  /** Operator → supervisor pairs with at least two overrides, most first. */
  recurringPairs: Bar[];
}

const DAY_MS = 86_400_000;

function count(keys: string[]): Bar[] {
  const m = new Map<string, number>();
  for (const k of keys) m.set(k, (m.get(k) ?? 0) + 1);
  return [...m.entries()]
    .map(([label, value]) => ({ label, value }))
    .sort((a, b) => b.value - a.value || a.label.localeCompare(b.label));
}

function median(xs: number[]): number | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Day key in UTC, `YYYY-MM-DD`. */
export function dayKey(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/** The figures over `cases`; `days` most recent days (ending at `nowMs`) per day, zeros included. */
export function computeDashboard(cases: OverrideView[], nowMs: number, days = 14): Dashboard {
  const perDay: Bar[] = [];
  const byDay = new Map(count(cases.map((c) => dayKey(c.grantedAtMs))).map((b) => [b.label, b.value]));
  for (let i = days - 1; i >= 0; i--) {
    const label = dayKey(nowMs - i * DAY_MS);
    perDay.push({ label, value: byDay.get(label) ?? 0 });
  }
  const hours = cases
    .filter((c) => c.review)
    .map((c) => Math.max(0, (c.review!.atMs - Math.min(c.expiresAtMs, c.review!.atMs)) / 3_600_000));
  return {
    total: cases.length,
    perDay,
    byTrigger: count(cases.map((c) => c.trigger)),
    bySupervisor: count(cases.map((c) => c.supervisor)),
    reviewHours: {
      median: median(hours),
      max: hours.length ? Math.max(...hours) : null,
      reviewed: hours.length,
      pending: cases.filter((c) => !c.review).length,
    },
    recurringPairs: count(cases.map((c) => `${c.operator} ← ${c.supervisor}`)).filter((b) => b.value >= 2),
  };
}

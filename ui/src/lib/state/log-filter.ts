// The evidence log's filters as the reviewer types them, and the engine's
// query they become. Dates are the reviewer's local time (datetime-local);
// an empty field is no filter.
import type { EventQuery } from '../bindings/EventQuery';

export type LogFilter = {
  kind: string;
  person: string;
  supervisor: string;
  outcome: string;
  trigger: string;
  caseId: string;
  /** `YYYY-MM-DDTHH:MM`, local time, or ''. */
  from: string;
  to: string;
};

export function emptyFilter(): LogFilter {
  return { kind: '', person: '', supervisor: '', outcome: '', trigger: '', caseId: '', from: '', to: '' };
}

function ms(local: string): number | null {
  if (!local) return null;
  const t = new Date(local).getTime();
  return Number.isNaN(t) ? null : t;
}

export function toQuery(f: LogFilter, afterSeq: number | null, limit: number): EventQuery {
  const text = (v: string) => v.trim() || null;
  return {
    kinds: f.kind ? [f.kind] : [],
    person: text(f.person),
    supervisor: text(f.supervisor),
    outcome: text(f.outcome),
    trigger: text(f.trigger),
    caseId: text(f.caseId),
    fromMs: ms(f.from),
    toMs: ms(f.to),
    afterSeq,
    limit,
    newestFirst: true,
  };
}

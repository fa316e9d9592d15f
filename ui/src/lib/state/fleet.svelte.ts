// The fleet view's state (Reviewer): the last read of the central bucket,
// the filters, and the events loaded so far (keyset paging across kiosks).
// Rows are raw state, as in the local evidence log: a page appended
// replaces the array, no row is wrapped in a reactive proxy.

import type { FleetOverview } from '../bindings/FleetOverview';
import type { FleetCursorView, FleetQuery } from '../bindings/FleetQuery';
import type { FleetEventRow } from '../bindings/FleetEventPage';
import { type Backend, type BackendError, toBackendError } from '../services/backend';

export interface FleetFilters {
  kiosk: string;
  kind: string;
  person: string;
  outcome: string;
  caseId: string;
  pendingReview: boolean;
}

export class FleetStore {
  overview = $state<FleetOverview | null>(null);
  filters = $state<FleetFilters>({ kiosk: '', kind: '', person: '', outcome: '', caseId: '', pendingReview: false });
  rows = $state.raw<FleetEventRow[]>([]);
  done = $state(false);
  reading = $state(false);
  loading = $state(false);
  error = $state<BackendError | null>(null);
  exported = $state<{ count: number; path: string } | null>(null);
  #next: FleetCursorView | null = null;
  readonly #backend: Backend;

  constructor(backend: Backend) {
    this.#backend = backend;
  }

  /** Kiosks that failed verification. */
  get failed(): number {
    return this.overview?.kiosks.filter((k) => !k.ok).length ?? 0;
  }

  /** What is known without reading the bucket (on mount). */
  async init(): Promise<void> {
    await this.#guard(async () => {
      this.overview = await this.#backend.fleetOverview();
      if (this.overview.loadedAtMs !== null) await this.#page(true, 200);
    });
  }

  /** Reads and verifies the bucket now, then the first page of events. */
  async open(): Promise<void> {
    if (this.reading) return;
    this.reading = true;
    await this.#guard(async () => {
      this.overview = await this.#backend.fleetOpen();
      this.rows = [];
      this.done = false;
      if (this.overview.loadedAtMs !== null) await this.#page(true, 200);
    });
    this.reading = false;
  }

  query(after: FleetCursorView | null, limit: number): FleetQuery {
    const f = this.filters;
    return {
      kiosk: f.kiosk || null,
      kinds: f.kind ? [f.kind] : [],
      person: f.person || null,
      supervisor: null,
      outcome: f.outcome || null,
      trigger: null,
      caseId: f.caseId || null,
      fromMs: null,
      toMs: null,
      pendingReview: f.pendingReview,
      after,
      limit,
      newestFirst: true,
    };
  }

  /** The first page with the current filters (`reset`) or the next one. */
  async load(reset: boolean, limit = reset ? 200 : 1000): Promise<void> {
    if (this.loading || (!reset && this.done)) return;
    await this.#guard(() => this.#page(reset, limit));
  }

  async export(format: 'jsonl' | 'ocsf'): Promise<void> {
    await this.#guard(async () => {
      const r = await this.#backend.fleetExport({ format, query: this.query(null, 1) });
      this.exported = { count: r.count, path: r.path };
    });
  }

  async #page(reset: boolean, limit: number): Promise<void> {
    this.loading = true;
    try {
      const page = await this.#backend.fleetEvents(this.query(reset ? null : this.#next, limit));
      this.rows = reset ? page.rows : this.rows.concat(page.rows);
      this.#next = page.nextAfter;
      this.done = page.nextAfter === null;
    } finally {
      this.loading = false;
    }
  }

  async #guard(f: () => Promise<void>): Promise<void> {
    this.error = null;
    try {
      await f();
    } catch (e) {
      this.error = toBackendError(e);
    }
  }
}

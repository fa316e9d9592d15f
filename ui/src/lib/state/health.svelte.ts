// The kiosk's clock against its ledger, asked of the Rust side on start and
// then every `everyMs` (issue 13, item 7). The engine refuses every write
// while the clock is behind the ledger; this store is how every screen
// learns why, without guessing from a failed command.

import type { ClockHealth } from '../bindings/ClockHealth';
import type { Backend } from '../services/backend';

export const CLOCK_CODE = 'clock.behind_ledger';

export class ClockWatch {
  health = $state<ClockHealth | null>(null);
  readonly #backend: Pick<Backend, 'clockHealth'>;

  constructor(backend: Pick<Backend, 'clockHealth'>) {
    this.#backend = backend;
  }

  get refused(): boolean {
    return this.health?.writesRefused ?? false;
  }

  /** Asks once. A failed ask keeps the last answer (the data dir may be closed). */
  async refresh(): Promise<void> {
    try {
      this.health = await this.#backend.clockHealth();
    } catch {
      // The start screen says what is wrong with the data dir.
    }
  }

  /** Asks now and every `everyMs`; returns the stop function (for onMount). */
  start(everyMs = 10_000): () => void {
    void this.refresh();
    const timer = setInterval(() => void this.refresh(), everyMs);
    return () => clearInterval(timer);
  }
}

/** "1 h 5 min", "3 min 20 s", "12 s". */
export function formatBehind(ms: number): string {
  const s = Math.round(ms / 1000);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  if (h > 0) return `${h} h ${m} min`;
  if (m > 0) return `${m} min ${s % 60} s`;
  return `${s} s`;
}

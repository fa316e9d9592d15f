// What stops the kiosk from recording, asked of the Rust side on start and
// then every `everyMs`: its clock behind the ledger (issue 13, item 7) or
// its ledger rolled back or forked (the anchor, issue 14). The engine
// refuses every write meanwhile; this store is how every screen learns why,
// without guessing from a failed command.

import type { Code } from '../bindings/Code';
import type { KioskHealth } from '../bindings/KioskHealth';
import type { Backend } from '../services/backend';

export const CLOCK_CODE: Code = 'clock.behind_ledger';

export class HealthWatch {
  health = $state<KioskHealth | null>(null);
  readonly #backend: Pick<Backend, 'kioskHealth'>;

  constructor(backend: Pick<Backend, 'kioskHealth'>) {
    this.#backend = backend;
  }

  get refused(): boolean {
    return this.health?.writesRefused ?? false;
  }

  /** Asks once. A failed ask keeps the last answer (the data dir may be closed). */
  async refresh(): Promise<void> {
    try {
      this.health = await this.#backend.kioskHealth();
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

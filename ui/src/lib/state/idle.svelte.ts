// Kiosk idle timeout: after this long without a touch, click or key, the
// window goes back to the start of the operator screen and wipes what was
// on it (forms, an open step-up, the reviewer's case), so the next person
// at the kiosk never sees the previous one's data. An open step-up is
// cancelled with a reason, so the ledger says why it ended.

/** Two minutes without input. */
export const IDLE_TIMEOUT_MS = 120_000;

export class IdleWatch {
  /** When the last input happened (ms, the same clock as `now`). */
  lastInput = $state(0);
  /** Bumped at each wipe: screens are keyed on it, so they remount empty. */
  wipes = $state(0);
  readonly timeoutMs: number;

  constructor(now: number, timeoutMs = IDLE_TIMEOUT_MS) {
    this.lastInput = now;
    this.timeoutMs = timeoutMs;
  }

  touch(now: number): void {
    this.lastInput = now;
  }

  /** True once `now` is past the timeout since the last input (or wipe). */
  due(now: number): boolean {
    return now - this.lastInput >= this.timeoutMs;
  }

  /** Records a wipe at `now`: the timeout starts again from here. */
  wiped(now: number): void {
    this.wipes += 1;
    this.lastInput = now;
  }
}

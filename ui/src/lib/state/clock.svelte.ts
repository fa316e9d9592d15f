// A ticking "now" for countdowns. Screens read `clock.now`; tests pass their own.

export class Ticker {
  now = $state(0);
  readonly #source: () => number;
  #timer: ReturnType<typeof setInterval> | null = null;

  constructor(source: () => number = () => Date.now()) {
    this.#source = source;
    this.now = source();
  }

  /** Starts ticking every `ms`; returns the stop function (for $effect). */
  start(ms = 250): () => void {
    this.#timer = setInterval(() => {
      this.now = this.#source();
    }, ms);
    return () => {
      if (this.#timer) clearInterval(this.#timer);
      this.#timer = null;
    };
  }

  tick(): void {
    this.now = this.#source();
  }
}

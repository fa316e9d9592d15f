// App-wide state as a Svelte 5 runes store.

import type { AppInfo } from '../bindings/AppInfo';
import { type Backend, type BackendError, toBackendError } from '../services/backend';

export type AppStatus = 'loading' | 'ready' | 'error';

export class AppState {
  status = $state<AppStatus>('loading');
  info = $state<AppInfo | null>(null);
  error = $state<BackendError | null>(null);

  readonly #backend: Backend;

  constructor(backend: Backend) {
    this.#backend = backend;
  }

  async load(): Promise<void> {
    this.status = 'loading';
    this.error = null;
    try {
      this.info = await this.#backend.appInfo();
      this.status = 'ready';
    } catch (error) {
      this.error = toBackendError(error);
      this.status = 'error';
    }
  }
}

export function createAppState(backend: Backend): AppState {
  return new AppState(backend);
}

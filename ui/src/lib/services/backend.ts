// The UI's only door to the Rust side. Components and stores depend on the
// `Backend` interface; the app wires in `tauriBackend`, tests and a plain
// browser (vite dev without Tauri) use a mock.

import { invoke, isTauri } from '@tauri-apps/api/core';
import type { AppInfo } from '../bindings/AppInfo';
import type { IpcError } from '../bindings/IpcError';

export interface Backend {
  appInfo(): Promise<AppInfo>;
}

/** An error returned by a command, with its stable `code` (e.g. "E_DATA_DIR"). */
export class BackendError extends Error implements IpcError {
  readonly code: string;

  constructor(error: IpcError) {
    super(error.message);
    this.name = 'BackendError';
    this.code = error.code;
  }
}

function isIpcError(value: unknown): value is IpcError {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as IpcError).code === 'string' &&
    typeof (value as IpcError).message === 'string'
  );
}

/** Turns whatever `invoke` rejected with into a BackendError. */
export function toBackendError(error: unknown): BackendError {
  if (error instanceof BackendError) return error;
  if (isIpcError(error)) return new BackendError(error);
  return new BackendError({ code: 'E_IPC', message: String(error) });
}

async function call<T>(command: string, args?: Record<string, unknown>): Promise<T> {
  try {
    return await invoke<T>(command, args);
  } catch (error) {
    throw toBackendError(error);
  }
}

export const tauriBackend: Backend = {
  appInfo: () => call<AppInfo>('app_info'),
};

export const demoAppInfo: AppInfo = {
  version: '0.0.0-mock',
  kioskMode: false,
  dataDir: '/tmp/countersign-mock',
  dataDirInitialized: true,
};

export interface MockOptions {
  appInfo?: Partial<AppInfo>;
  /** When set, every call rejects with this error. */
  error?: IpcError;
}

export function createMockBackend(options: MockOptions = {}): Backend {
  return {
    async appInfo() {
      if (options.error) throw new BackendError(options.error);
      return { ...demoAppInfo, ...options.appInfo };
    },
  };
}

export const mockBackend: Backend = createMockBackend();

/** The real backend inside the Tauri window, the mock elsewhere. */
export function defaultBackend(): Backend {
  return isTauri() ? tauriBackend : mockBackend;
}

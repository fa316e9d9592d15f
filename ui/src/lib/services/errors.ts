// Errors as the UI sees them: the command's stable code and its message.

import type { IpcError } from '../bindings/IpcError';

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


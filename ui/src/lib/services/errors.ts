// Errors as the UI sees them: the command's stable code and its message.

import type { Code } from '../bindings/Code';
import type { IpcError } from '../bindings/IpcError';

export type { Code };

/**
 * The local anchor's refusals (`anchor.*`, the engine's `Code::is_anchor`):
 * nothing is recorded until an admin re-seeds.
 */
export const ANCHOR_CODES: readonly Code[] = [
  'anchor.alarm',
  'anchor.fork',
  'anchor.invalid',
  'anchor.ledger_behind',
  'anchor.missing',
  'anchor.remote_ahead',
  'anchor.remote_fork',
];

/** A refusal reason of the step-up machine: `refused.<reason>` is its code. */
export type RefusedReason = ReasonOf<Code>;
type ReasonOf<C> = C extends `refused.${infer R}` ? R : never;

/** An error returned by a command, with its stable `code` (e.g. "app.data_dir"). */
export class BackendError extends Error implements IpcError {
  readonly code: Code;

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
  return new BackendError({ code: 'app.ipc', message: String(error) });
}


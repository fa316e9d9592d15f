// The UI's only door to the Rust side. Components and stores depend on the
// `Backend` interface; the app wires in `tauriBackend`, tests and a plain
// browser (vite dev without Tauri) use a mock.

import { invoke, isTauri } from '@tauri-apps/api/core';
import type { AppInfo } from '../bindings/AppInfo';
import type { KioskHealth } from '../bindings/KioskHealth';
import type { IpcError } from '../bindings/IpcError';
import { commandClient, type Call, type CommandName, type Commands } from './commands.gen';
import { createSyncMock, type SyncMockOptions } from './mock-fleet';
import { createAdminMock } from './mock-admin';
import { createFixtureBackend } from './fixture';
import { BackendError, toBackendError } from './errors';

export { BackendError, toBackendError };

/**
 * Everything the screens may ask of the Rust side: one method per command,
 * generated from src-tauri/src/commands/table.rs (commands.gen.ts).
 */
export type Backend = Commands;

/** Evidence sync (Admin) and the fleet view (Reviewer). */
export type SyncBackend = Pick<Backend, 'syncStatus' | 'fleetOverview' | 'fleetOpen' | 'fleetEvents' | 'fleetExport'>;

/**
 * The admin's acts (admin console session; each registry act carries the
 * admin's two factors, checked by the engine).
 */
export type AdminBackend = Pick<
  Backend,
  | 'addPerson'
  | 'setRoles'
  | 'unlockPerson'
  | 'issueCredentials'
  | 'policySource'
  | 'policyDiff'
  | 'applyPolicy'
  | 'listClients'
  | 'addClient'
  | 'listPrincipals'
  | 'addPrincipal'
>;

/** The backend without the sync and admin parts and the clock (services/fixture.ts implements it). */
export type DemoBackend = Omit<Backend, keyof SyncBackend | keyof AdminBackend | 'kioskHealth'>;

const call: Call = async <T>(command: CommandName, args?: Record<string, unknown>): Promise<T> => {
  try {
    return await invoke<T>(command, args);
  } catch (error) {
    throw toBackendError(error);
  }
};

/** The window's backend: Tauri's `invoke` under the generated client. */
export const tauriBackend: Backend = commandClient(call);

export const demoAppInfo: AppInfo = {
  version: '0.0.0-mock',
  kioskMode: false,
  consoleMode: false,
  dataDir: '/tmp/countersign-mock',
  dataDirInitialized: true,
};

export const healthyKiosk: KioskHealth = {
  writesRefused: false,
  behindMs: 0,
  toleranceMs: 5000,
  code: null,
  lastRefusalSeq: null,
  anchor: null,
};

export interface MockOptions {
  appInfo?: Partial<AppInfo>;
  /** The clock the mock reports (default: healthy). */
  kioskHealth?: Partial<KioskHealth>;
  /** When set, every call rejects with this error. */
  error?: IpcError;
  /** The mock's clock (tests move it); defaults to Date.now. */
  now?: () => number;
  /** Start with history: 500 events (or `seedEvents`) and two override cases. */
  seed?: boolean;
  /** How many historical events `seed` puts in the log (default 500). */
  seedEvents?: number;
  /** The replay scene the mock camera starts on (`unplugged`: no camera). */
  scene?: string;
  /** The demo finger the mock's virtual reader starts on. */
  fingerScene?: string;
  /** The sync panel's and the fleet view's mock data (services/mock-fleet.ts). */
  sync?: SyncMockOptions;
  /** A real kiosk's data dir: no replay, no virtual reader, no scenes (fixture.ts). */
  production?: boolean;
  /** Scripted answers, command by command (fixture.ts: no rules of its own). */
  script?: Partial<DemoBackend>;
}

/**
 * Arguments cross IPC as JSON, so the mock gets copies too: never the
 * screens' live state (a Svelte proxy kept in an event body cannot be
 * cloned later, and would change under the mock's feet).
 */
function likeIpc(backend: Backend): Backend {
  const copy = (a: unknown) => (a === undefined ? a : JSON.parse(JSON.stringify(a)));
  return Object.fromEntries(
    Object.entries(backend).map(([name, fn]) => [
      name,
      (...args: unknown[]) => (fn as (...a: unknown[]) => Promise<unknown>)(...args.map(copy)),
    ]),
  ) as unknown as Backend;
}

/** The fixture backend: canned states, no rules (see fixture.ts). */
export function createMockBackend(options: MockOptions = {}): Backend {
  const demo = likeIpc({
    ...createFixtureBackend({
      now: options.now,
      seedEvents: options.seed ? (options.seedEvents ?? 500) : 0,
      seedOverrides: options.seed ?? false,
      scene: options.scene,
      fingerScene: options.fingerScene,
      production: options.production,
      script: options.script,
    }),
    ...createSyncMock({ now: options.now, ...options.sync }),
    ...createAdminMock(),
    kioskHealth: async () => ({ ...healthyKiosk, ...options.kioskHealth }),
  });
  const fail = options.error;
  if (fail) {
    return Object.fromEntries(
      Object.keys(demo).map((k) => [k, () => Promise.reject(new BackendError(fail))]),
    ) as unknown as Backend;
  }
  return {
    ...demo,
    async appInfo() {
      return { ...demoAppInfo, ...options.appInfo };
    },
  };
}

export const mockBackend: Backend = createMockBackend({ seed: true });

/**
 * The mock's options from the page's query string (browser tests and the UI
 * benchmark; never read inside the Tauri window):
 * `mockEvents=N` seeds N historical events, `mockUninitialised=1` reports a
 * data dir that is not initialised (the start screen), `mockScene=NAME`
 * starts the replay camera on that scene (`unplugged`: no camera at all),
 * `mockSync=alert|unconfigured` and `mockFleet=tampered|unconfigured` pick
 * the sync panel's and the fleet view's case.
 */
export function mockOptionsFrom(search: string): MockOptions | null {
  const q = new URLSearchParams(search);
  const events = Number(q.get('mockEvents'));
  const uninitialised = q.get('mockUninitialised') === '1';
  const scene = q.get('mockScene') ?? undefined;
  const sync = syncMockFrom(q);
  if (!(events > 0) && !uninitialised && !scene && !sync) return null;
  return {
    sync,
    seed: true,
    seedEvents: events > 0 ? Math.min(Math.floor(events), 1_000_000) : undefined,
    appInfo: uninitialised ? { dataDirInitialized: false } : undefined,
    scene,
  };
}

function syncMockFrom(q: URLSearchParams): SyncMockOptions | undefined {
  const status = q.get('mockSync');
  const fleet = q.get('mockFleet');
  if (!status && !fleet) return undefined;
  return {
    status: status === 'alert' || status === 'unconfigured' ? status : undefined,
    fleet: fleet === 'tampered' || fleet === 'unconfigured' ? fleet : undefined,
  };
}

/** The real backend inside the Tauri window, the mock elsewhere. */
export function defaultBackend(search: string = globalThis.location?.search ?? ''): Backend {
  if (isTauri()) return tauriBackend;
  const options = mockOptionsFrom(search);
  return options ? createMockBackend(options) : mockBackend;
}

// The UI's only door to the Rust side. Components and stores depend on the
// `Backend` interface; the app wires in `tauriBackend`, tests and a plain
// browser (vite dev without Tauri) use a mock.

import { invoke, isTauri } from '@tauri-apps/api/core';
import type { AppInfo } from '../bindings/AppInfo';
import type { KioskHealth } from '../bindings/KioskHealth';
import type { CaptureStatus } from '../bindings/CaptureStatus';
import type { PreviewFrame } from '../bindings/PreviewFrame';
import type { EnrollRequest } from '../bindings/EnrollRequest';
import type { OpenRequestView } from '../bindings/OpenRequestView';
import type { EnrollResult } from '../bindings/EnrollResult';
import type { DemoCredential } from '../bindings/DemoCredential';
import type { EventPage } from '../bindings/EventPage';
import type { EventQuery } from '../bindings/EventQuery';
import type { ExportRequest } from '../bindings/ExportRequest';
import type { ExportResult } from '../bindings/ExportResult';
import type { GrantInput } from '../bindings/GrantInput';
import type { IpcError } from '../bindings/IpcError';
import type { OverrideQuery } from '../bindings/OverrideQuery';
import type { OverrideView } from '../bindings/OverrideView';
import type { Person } from '../bindings/Person';
import type { PolicyView } from '../bindings/PolicyView';
import type { ReviewSubmission } from '../bindings/ReviewSubmission';
import type { RevokeInput } from '../bindings/RevokeInput';
import type { StartStepupRequest } from '../bindings/StartStepupRequest';
import type { StepupView } from '../bindings/StepupView';
import type { SupervisorLogin } from '../bindings/SupervisorLogin';
import type { VerifyStatus } from '../bindings/VerifyStatus';
import type { ConsoleSession } from '../bindings/ConsoleSession';
import type { ConsoleSignIn } from '../bindings/ConsoleSignIn';
import type { SampleImage } from '../bindings/SampleImage';
import type { FingerStatus } from '../bindings/FingerStatus';
import type { FingerProgress } from '../bindings/FingerProgress';
import type { FingerEnrollRequest, FingerEnrollResult } from '../bindings/FingerEnrollRequest';
import type { SyncStatusView } from '../bindings/SyncStatusView';
import type { FleetOverview } from '../bindings/FleetOverview';
import type { FleetQuery } from '../bindings/FleetQuery';
import type { FleetEventPage } from '../bindings/FleetEventPage';
import type { FleetExportRequest } from '../bindings/FleetExportRequest';
import type { AddPersonRequest } from '../bindings/AddPersonRequest';
import type { SetRolesRequest } from '../bindings/SetRolesRequest';
import type { UnlockRequest } from '../bindings/UnlockRequest';
import type { IssueCredentialsRequest } from '../bindings/IssueCredentialsRequest';
import type { IssuedCredentials } from '../bindings/IssuedCredentials';
import type { PolicySource } from '../bindings/PolicySource';
import type { PolicyDiff } from '../bindings/PolicyDiff';
import type { ApplyPolicyRequest } from '../bindings/ApplyPolicyRequest';
import type { AddClientRequest } from '../bindings/AddClientRequest';
import type { AddPrincipalRequest } from '../bindings/AddPrincipalRequest';
import type { ClientAdded } from '../bindings/ClientAdded';
import type { ClientInfo } from '../bindings/ClientInfo';
import type { PrincipalInfo } from '../bindings/PrincipalInfo';
import { createSyncMock, type SyncMockOptions } from './mock-fleet';
import { createAdminMock } from './mock-admin';
import { createDemoBackend } from './mock';
import { BackendError, toBackendError } from './errors';

export { BackendError, toBackendError };

/** Evidence sync (Admin) and the fleet view (Reviewer). */
export interface SyncBackend {
  syncStatus(): Promise<SyncStatusView>;
  /** The last read of the bucket (nothing is read). */
  fleetOverview(): Promise<FleetOverview>;
  /** Reads and verifies the bucket now. */
  fleetOpen(): Promise<FleetOverview>;
  fleetEvents(query: FleetQuery): Promise<FleetEventPage>;
  fleetExport(request: FleetExportRequest): Promise<ExportResult>;
}

/**
 * The admin's acts (admin console session; each registry act carries the
 * admin's two factors, checked by the engine). The TOTP secret comes back
 * once, from `issueCredentials`.
 */
export interface AdminBackend {
  addPerson(request: AddPersonRequest): Promise<Person>;
  setRoles(request: SetRolesRequest): Promise<Person>;
  unlockPerson(request: UnlockRequest): Promise<Person>;
  issueCredentials(request: IssueCredentialsRequest): Promise<IssuedCredentials>;
  policySource(): Promise<PolicySource>;
  policyDiff(proposed: string): Promise<PolicyDiff>;
  applyPolicy(request: ApplyPolicyRequest): Promise<PolicySource>;
  listClients(): Promise<ClientInfo[]>;
  /** Registers a relying application; answers with the kiosk pin it needs. */
  addClient(request: AddClientRequest): Promise<ClientAdded>;
  listPrincipals(): Promise<PrincipalInfo[]>;
  addPrincipal(request: AddPrincipalRequest): Promise<PrincipalInfo>;
}

/** The backend without the sync and admin parts and the clock (services/mock.ts implements it). */
export type DemoBackend = Omit<Backend, keyof SyncBackend | keyof AdminBackend | 'kioskHealth'>;

/** Everything the screens may ask of the Rust side (one method per command). */
export interface Backend extends SyncBackend, AdminBackend {
  appInfo(): Promise<AppInfo>;
  /** The kiosk's clock against its ledger (writes refused when behind). */
  kioskHealth(): Promise<KioskHealth>;
  listPeople(): Promise<Person[]>;
  policyView(): Promise<PolicyView>;
  demoCredentials(): Promise<DemoCredential[]>;
  startStepup(request: StartStepupRequest): Promise<StepupView>;
  stepupStatus(sessionId: string): Promise<StepupView>;
  identify(sessionId: string, operator: string): Promise<StepupView>;
  verifyMe(sessionId: string): Promise<StepupView>;
  captureStatus(): Promise<CaptureStatus>;
  setReplayScene(scene: string): Promise<CaptureStatus>;
  previewFrame(): Promise<PreviewFrame>;
  enrollFace(request: EnrollRequest): Promise<EnrollResult>;
  openRequests(): Promise<OpenRequestView[]>;
  takeRequest(requestId: string): Promise<StepupView>;
  cancelStepup(sessionId: string, reason: string): Promise<StepupView>;
  supervisorLogin(login: SupervisorLogin): Promise<StepupView>;
  grantOverride(grant: GrantInput): Promise<OverrideView>;
  listOverrides(query: OverrideQuery): Promise<OverrideView[]>;
  revokeOverride(revoke: RevokeInput): Promise<OverrideView>;
  reviewOverride(review: ReviewSubmission): Promise<OverrideView>;
  queryEvents(query: EventQuery): Promise<EventPage>;
  verifyLedger(): Promise<VerifyStatus>;
  exportEvents(request: ExportRequest): Promise<ExportResult>;
  /** Two factors once; samples open for 15 minutes (or until sign-out). */
  /** Two-factor sign-in to the console as reviewer or admin (refused on a kiosk). */
  consoleSignIn(login: ConsoleSignIn): Promise<ConsoleSession>;
  consoleSession(): Promise<ConsoleSession | null>;
  consoleSignOut(): Promise<void>;
  /** A sealed sample for the signed-in reviewer (the view is logged). */
  openSample(sha256: string, eventSeq: number | null): Promise<SampleImage>;
  /** One of the step-up's own samples for its authenticated supervisor. */
  openSessionSample(sessionId: string, sha256: string): Promise<SampleImage>;
  fingerStatus(): Promise<FingerStatus>;
  setFingerScene(scene: string): Promise<FingerStatus>;
  fingerProgress(): Promise<FingerProgress>;
  verifyFinger(sessionId: string): Promise<StepupView>;
  enrollFinger(request: FingerEnrollRequest): Promise<FingerEnrollResult>;
}

async function call<T>(command: string, args?: Record<string, unknown>): Promise<T> {
  try {
    return await invoke<T>(command, args);
  } catch (error) {
    throw toBackendError(error);
  }
}

export const tauriBackend: Backend = {
  appInfo: () => call('app_info'),
  kioskHealth: () => call('kiosk_health'),
  listPeople: () => call('list_people'),
  policyView: () => call('policy_view'),
  demoCredentials: () => call('demo_credentials'),
  startStepup: (request) => call('start_stepup', { request }),
  stepupStatus: (sessionId) => call('stepup_status', { sessionId }),
  identify: (sessionId, operator) => call('identify', { sessionId, operator }),
  verifyMe: (sessionId) => call('verify_me', { sessionId }),
  captureStatus: () => call('capture_status'),
  setReplayScene: (scene) => call('set_replay_scene', { scene }),
  previewFrame: () => call('preview_frame'),
  enrollFace: (request) => call('enroll_face', { request }),
  openRequests: () => call('open_requests'),
  takeRequest: (requestId) => call('take_request', { requestId }),
  cancelStepup: (sessionId, reason) => call('cancel_stepup', { sessionId, reason }),
  supervisorLogin: (login) => call('supervisor_login', { login }),
  grantOverride: (grant) => call('grant_override', { grant }),
  listOverrides: (query) => call('list_overrides', { query }),
  revokeOverride: (revoke) => call('revoke_override', { revoke }),
  reviewOverride: (review) => call('review_override', { review }),
  queryEvents: (query) => call('query_events', { query }),
  verifyLedger: () => call('verify_ledger'),
  exportEvents: (request) => call('export_events', { request }),
  consoleSignIn: (login) => call('console_sign_in', { login }),
  consoleSession: () => call('console_session'),
  consoleSignOut: () => call('console_sign_out'),
  openSample: (sha256, eventSeq) => call('open_sample', { sha256, eventSeq }),
  openSessionSample: (sessionId, sha256) => call('open_session_sample', { sessionId, sha256 }),
  fingerStatus: () => call('finger_status'),
  setFingerScene: (scene) => call('set_finger_scene', { scene }),
  fingerProgress: () => call('finger_progress'),
  verifyFinger: (sessionId) => call('verify_finger', { sessionId }),
  enrollFinger: (request) => call('enroll_finger', { request }),
  syncStatus: () => call('sync_status'),
  fleetOverview: () => call('fleet_overview'),
  fleetOpen: () => call('fleet_open'),
  fleetEvents: (query) => call('fleet_events', { query }),
  fleetExport: (request) => call('fleet_export', { request }),
  addPerson: (request) => call('add_person', { request }),
  setRoles: (request) => call('set_roles', { request }),
  unlockPerson: (request) => call('unlock_person', { request }),
  issueCredentials: (request) => call('issue_credentials', { request }),
  policySource: () => call('policy_source'),
  policyDiff: (proposed) => call('policy_diff', { proposed }),
  applyPolicy: (request) => call('apply_policy', { request }),
  listClients: () => call('list_clients'),
  addClient: (request) => call('add_client', { request }),
  listPrincipals: () => call('list_principals'),
  addPrincipal: (request) => call('add_principal', { request }),
};

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
  /** How long the mock's reader waits for the finger, then scans (ms each). */
  fingerStepMs?: number;
  /** The sync panel's and the fleet view's mock data (services/mock-fleet.ts). */
  sync?: SyncMockOptions;
  /** A real kiosk's data dir: no replay, no virtual reader, no scenes (mock.ts). */
  production?: boolean;
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

/** An in-memory backend with the engine's rules (see mock.ts). */
export function createMockBackend(options: MockOptions = {}): Backend {
  const demo = likeIpc({
    ...createDemoBackend({
      now: options.now,
      seedEvents: options.seed ? (options.seedEvents ?? 500) : 0,
      seedOverrides: options.seed ?? false,
      scene: options.scene,
      fingerScene: options.fingerScene,
      fingerStepMs: options.fingerStepMs,
      production: options.production,
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

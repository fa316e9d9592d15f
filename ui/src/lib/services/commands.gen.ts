// Generated from src-tauri/src/commands/table.rs; do not edit. Rewrite with
// `UPDATE_BINDINGS=1 cargo test -p countersign-app commands::client_ts`.

import type { AddClientRequest } from '../bindings/AddClientRequest';
import type { AddPersonRequest } from '../bindings/AddPersonRequest';
import type { AddPrincipalRequest } from '../bindings/AddPrincipalRequest';
import type { AppInfo } from '../bindings/AppInfo';
import type { ApplyPolicyRequest } from '../bindings/ApplyPolicyRequest';
import type { CaptureStatus } from '../bindings/CaptureStatus';
import type { ClientAdded } from '../bindings/ClientAdded';
import type { ClientInfo } from '../bindings/ClientInfo';
import type { ConsoleSession } from '../bindings/ConsoleSession';
import type { ConsoleSignIn } from '../bindings/ConsoleSignIn';
import type { DemoCredential } from '../bindings/DemoCredential';
import type { EnrollRequest } from '../bindings/EnrollRequest';
import type { EnrollResult } from '../bindings/EnrollResult';
import type { EventPage } from '../bindings/EventPage';
import type { EventQuery } from '../bindings/EventQuery';
import type { ExportRequest } from '../bindings/ExportRequest';
import type { ExportResult } from '../bindings/ExportResult';
import type { FingerEnrollRequest } from '../bindings/FingerEnrollRequest';
import type { FingerEnrollResult } from '../bindings/FingerEnrollRequest';
import type { FingerProgress } from '../bindings/FingerProgress';
import type { FingerStatus } from '../bindings/FingerStatus';
import type { FleetEventPage } from '../bindings/FleetEventPage';
import type { FleetExportRequest } from '../bindings/FleetExportRequest';
import type { FleetOverview } from '../bindings/FleetOverview';
import type { FleetQuery } from '../bindings/FleetQuery';
import type { GrantInput } from '../bindings/GrantInput';
import type { IssueCredentialsRequest } from '../bindings/IssueCredentialsRequest';
import type { IssuedCredentials } from '../bindings/IssuedCredentials';
import type { KioskHealth } from '../bindings/KioskHealth';
import type { OpenRequestView } from '../bindings/OpenRequestView';
import type { OverrideQuery } from '../bindings/OverrideQuery';
import type { OverrideView } from '../bindings/OverrideView';
import type { Person } from '../bindings/Person';
import type { PolicyDiff } from '../bindings/PolicyDiff';
import type { PolicySource } from '../bindings/PolicySource';
import type { PolicyView } from '../bindings/PolicyView';
import type { PreviewFrame } from '../bindings/PreviewFrame';
import type { PrincipalInfo } from '../bindings/PrincipalInfo';
import type { ReviewSubmission } from '../bindings/ReviewSubmission';
import type { RevokeInput } from '../bindings/RevokeInput';
import type { SampleImage } from '../bindings/SampleImage';
import type { SetRolesRequest } from '../bindings/SetRolesRequest';
import type { StartStepupRequest } from '../bindings/StartStepupRequest';
import type { StepupView } from '../bindings/StepupView';
import type { SupervisorLogin } from '../bindings/SupervisorLogin';
import type { SyncStatusView } from '../bindings/SyncStatusView';
import type { UnlockRequest } from '../bindings/UnlockRequest';
import type { VerifyStatus } from '../bindings/VerifyStatus';

/** Every command the window may call (table.rs's order). */
export const COMMAND_NAMES = [
  'app_info',
  'kiosk_health',
  'list_people',
  'policy_view',
  'demo_credentials',
  'start_stepup',
  'stepup_status',
  'identify',
  'verify_me',
  'cancel_stepup',
  'supervisor_login',
  'grant_override',
  'list_overrides',
  'revoke_override',
  'review_override',
  'query_events',
  'verify_ledger',
  'export_events',
  'capture_status',
  'set_replay_scene',
  'preview_frame',
  'enroll_face',
  'open_requests',
  'take_request',
  'console_sign_in',
  'console_session',
  'console_sign_out',
  'open_sample',
  'open_session_sample',
  'finger_status',
  'set_finger_scene',
  'finger_progress',
  'verify_finger',
  'enroll_finger',
  'sync_status',
  'fleet_overview',
  'fleet_open',
  'fleet_events',
  'fleet_export',
  'add_person',
  'set_roles',
  'unlock_person',
  'issue_credentials',
  'policy_source',
  'policy_diff',
  'apply_policy',
  'list_clients',
  'add_client',
  'list_principals',
  'add_principal',
] as const;

export type CommandName = (typeof COMMAND_NAMES)[number];

/** One method per command: what the screens may ask of the Rust side. */
export interface Commands {
  /**
   * Basic facts for the start screen.
   */
  appInfo(): Promise<AppInfo>;
  /**
   * The kiosk's clock against its ledger (writes refused when behind).
   */
  kioskHealth(): Promise<KioskHealth>;
  listPeople(): Promise<Array<Person>>;
  policyView(): Promise<PolicyView>;
  demoCredentials(): Promise<Array<DemoCredential>>;
  startStepup(request: StartStepupRequest): Promise<StepupView>;
  stepupStatus(sessionId: string): Promise<StepupView>;
  identify(sessionId: string, operator: string): Promise<StepupView>;
  /**
   * The act of intent: one capture, matched against the operator's template.
   */
  verifyMe(sessionId: string): Promise<StepupView>;
  cancelStepup(sessionId: string, reason: string): Promise<StepupView>;
  supervisorLogin(login: SupervisorLogin): Promise<StepupView>;
  grantOverride(grant: GrantInput): Promise<OverrideView>;
  listOverrides(query: OverrideQuery): Promise<Array<OverrideView>>;
  revokeOverride(revoke: RevokeInput): Promise<OverrideView>;
  reviewOverride(review: ReviewSubmission): Promise<OverrideView>;
  queryEvents(query: EventQuery): Promise<EventPage>;
  verifyLedger(): Promise<VerifyStatus>;
  exportEvents(request: ExportRequest): Promise<ExportResult>;
  captureStatus(): Promise<CaptureStatus>;
  /**
   * Demo data dirs only: which replay scene the camera shows.
   */
  setReplayScene(scene: string): Promise<CaptureStatus>;
  previewFrame(): Promise<PreviewFrame>;
  enrollFace(request: EnrollRequest): Promise<EnrollResult>;
  openRequests(): Promise<Array<OpenRequestView>>;
  takeRequest(requestId: string): Promise<StepupView>;
  /**
   * Two-factor sign-in to the console as reviewer or admin (refused on a kiosk).
   */
  consoleSignIn(login: ConsoleSignIn): Promise<ConsoleSession>;
  consoleSession(): Promise<ConsoleSession | null>;
  consoleSignOut(): Promise<void>;
  /**
   * A sealed sample for the signed-in reviewer (the view is logged).
   */
  openSample(sha256: string, eventSeq: number | null): Promise<SampleImage>;
  /**
   * One of the step-up's own samples for its authenticated supervisor.
   */
  openSessionSample(sessionId: string, sha256: string): Promise<SampleImage>;
  fingerStatus(): Promise<FingerStatus>;
  setFingerScene(scene: string): Promise<FingerStatus>;
  fingerProgress(): Promise<FingerProgress>;
  verifyFinger(sessionId: string): Promise<StepupView>;
  enrollFinger(request: FingerEnrollRequest): Promise<FingerEnrollResult>;
  /**
   * Evidence sync's state (Admin).
   */
  syncStatus(): Promise<SyncStatusView>;
  /**
   * The last read of the bucket (nothing is read).
   */
  fleetOverview(): Promise<FleetOverview>;
  /**
   * Reads and verifies the bucket now.
   */
  fleetOpen(): Promise<FleetOverview>;
  fleetEvents(query: FleetQuery): Promise<FleetEventPage>;
  fleetExport(request: FleetExportRequest): Promise<ExportResult>;
  addPerson(request: AddPersonRequest): Promise<Person>;
  setRoles(request: SetRolesRequest): Promise<Person>;
  unlockPerson(request: UnlockRequest): Promise<Person>;
  /**
   * The TOTP secret comes back once, from here.
   */
  issueCredentials(request: IssueCredentialsRequest): Promise<IssuedCredentials>;
  policySource(): Promise<PolicySource>;
  policyDiff(proposed: string): Promise<PolicyDiff>;
  applyPolicy(request: ApplyPolicyRequest): Promise<PolicySource>;
  listClients(): Promise<Array<ClientInfo>>;
  /**
   * Registers a relying application; answers with the kiosk pin it needs.
   */
  addClient(request: AddClientRequest): Promise<ClientAdded>;
  listPrincipals(): Promise<Array<PrincipalInfo>>;
  addPrincipal(request: AddPrincipalRequest): Promise<PrincipalInfo>;
}

/** How a command reaches the Rust side: Tauri's `invoke`, or a test's bridge. */
export type Call = <T>(command: CommandName, args?: Record<string, unknown>) => Promise<T>;

/** The `Commands` interface over `call`. */
export function commandClient(call: Call): Commands {
  return {
    appInfo: () => call<AppInfo>('app_info'),
    kioskHealth: () => call<KioskHealth>('kiosk_health'),
    listPeople: () => call<Array<Person>>('list_people'),
    policyView: () => call<PolicyView>('policy_view'),
    demoCredentials: () => call<Array<DemoCredential>>('demo_credentials'),
    startStepup: (request: StartStepupRequest) => call<StepupView>('start_stepup', { request }),
    stepupStatus: (sessionId: string) => call<StepupView>('stepup_status', { sessionId }),
    identify: (sessionId: string, operator: string) => call<StepupView>('identify', { sessionId, operator }),
    verifyMe: (sessionId: string) => call<StepupView>('verify_me', { sessionId }),
    cancelStepup: (sessionId: string, reason: string) => call<StepupView>('cancel_stepup', { sessionId, reason }),
    supervisorLogin: (login: SupervisorLogin) => call<StepupView>('supervisor_login', { login }),
    grantOverride: (grant: GrantInput) => call<OverrideView>('grant_override', { grant }),
    listOverrides: (query: OverrideQuery) => call<Array<OverrideView>>('list_overrides', { query }),
    revokeOverride: (revoke: RevokeInput) => call<OverrideView>('revoke_override', { revoke }),
    reviewOverride: (review: ReviewSubmission) => call<OverrideView>('review_override', { review }),
    queryEvents: (query: EventQuery) => call<EventPage>('query_events', { query }),
    verifyLedger: () => call<VerifyStatus>('verify_ledger'),
    exportEvents: (request: ExportRequest) => call<ExportResult>('export_events', { request }),
    captureStatus: () => call<CaptureStatus>('capture_status'),
    setReplayScene: (scene: string) => call<CaptureStatus>('set_replay_scene', { scene }),
    previewFrame: () => call<PreviewFrame>('preview_frame'),
    enrollFace: (request: EnrollRequest) => call<EnrollResult>('enroll_face', { request }),
    openRequests: () => call<Array<OpenRequestView>>('open_requests'),
    takeRequest: (requestId: string) => call<StepupView>('take_request', { requestId }),
    consoleSignIn: (login: ConsoleSignIn) => call<ConsoleSession>('console_sign_in', { login }),
    consoleSession: () => call<ConsoleSession | null>('console_session'),
    consoleSignOut: () => call<void>('console_sign_out'),
    openSample: (sha256: string, eventSeq: number | null) => call<SampleImage>('open_sample', { sha256, eventSeq }),
    openSessionSample: (sessionId: string, sha256: string) => call<SampleImage>('open_session_sample', { sessionId, sha256 }),
    fingerStatus: () => call<FingerStatus>('finger_status'),
    setFingerScene: (scene: string) => call<FingerStatus>('set_finger_scene', { scene }),
    fingerProgress: () => call<FingerProgress>('finger_progress'),
    verifyFinger: (sessionId: string) => call<StepupView>('verify_finger', { sessionId }),
    enrollFinger: (request: FingerEnrollRequest) => call<FingerEnrollResult>('enroll_finger', { request }),
    syncStatus: () => call<SyncStatusView>('sync_status'),
    fleetOverview: () => call<FleetOverview>('fleet_overview'),
    fleetOpen: () => call<FleetOverview>('fleet_open'),
    fleetEvents: (query: FleetQuery) => call<FleetEventPage>('fleet_events', { query }),
    fleetExport: (request: FleetExportRequest) => call<ExportResult>('fleet_export', { request }),
    addPerson: (request: AddPersonRequest) => call<Person>('add_person', { request }),
    setRoles: (request: SetRolesRequest) => call<Person>('set_roles', { request }),
    unlockPerson: (request: UnlockRequest) => call<Person>('unlock_person', { request }),
    issueCredentials: (request: IssueCredentialsRequest) => call<IssuedCredentials>('issue_credentials', { request }),
    policySource: () => call<PolicySource>('policy_source'),
    policyDiff: (proposed: string) => call<PolicyDiff>('policy_diff', { proposed }),
    applyPolicy: (request: ApplyPolicyRequest) => call<PolicySource>('apply_policy', { request }),
    listClients: () => call<Array<ClientInfo>>('list_clients'),
    addClient: (request: AddClientRequest) => call<ClientAdded>('add_client', { request }),
    listPrincipals: () => call<Array<PrincipalInfo>>('list_principals'),
    addPrincipal: (request: AddPrincipalRequest) => call<PrincipalInfo>('add_principal', { request }),
  };
}

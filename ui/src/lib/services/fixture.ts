// The fixture backend: canned states for component tests, the few browser
// tests the real service cannot stage (a 100,000-event log, a sync server's
// alerts) and a plain browser (vite dev without Tauri). It has NO rules: it
// never counts attempts, throttles, fires a trigger, checks a factor, caps a
// grant or judges a review. Each command answers with the next state a test
// scripted (`script`), else with a fixed demo state. A rule or a refusal
// code that the engine does not have can therefore not pass a test here; the
// journeys that exercise the rules run against the real service
// (ui/browser-tests through src-tauri/examples/ipc_bridge.rs).

import type { AttemptRecord, StepupView } from '../bindings/StepupView';
import type { CaptureStatus } from '../bindings/CaptureStatus';
import type { EventPage, EventRow } from '../bindings/EventPage';
import type { EventQuery } from '../bindings/EventQuery';
import type { OverrideView } from '../bindings/OverrideView';
import type { SampleImage } from '../bindings/SampleImage';
import type { FingerStatus } from '../bindings/FingerStatus';
import type { ConsoleSession } from '../bindings/ConsoleSession';
import type { DemoBackend } from './backend';
import { BackendError } from './errors';
import { mockCredentials, mockPolicy, people, previewSvg, SCENES } from './mock-data';

export { mockCredentials, mockPolicy } from './mock-data';

export interface FixtureOptions {
  now?: () => number;
  /** The replay scene the status reports (`unplugged`: none). */
  scene?: string;
  /** The demo finger the reader status reports. */
  fingerScene?: string;
  /** Historical events in the log (the reviewer's list at scale). */
  seedEvents?: number;
  /** Two cases for the reviewer: one overdue for review, one in force. */
  seedOverrides?: boolean;
  /** A real kiosk's data dir: no replay, no virtual reader, not demo. */
  production?: boolean;
  /**
   * The answers a test scripts, command by command; they win over the
   * fixed states. A scripted function may also throw a `BackendError`.
   */
  script?: Partial<DemoBackend>;
}

const HOUR = 3_600_000;

/** A step-up view with `patch` over a fixed, identified demo step-up. */
export function stepupView(patch: Partial<StepupView> = {}, now = Date.now()): StepupView {
  return {
    sessionId: 'stp-fixture',
    state: 'identified',
    requester: 'ledger-app',
    scope: ['payments.approve'],
    requestedAtMs: now,
    operator: 'olga',
    operatorName: 'Olga Operator',
    attemptNo: 0,
    consecutiveFailures: 0,
    failureLimit: mockPolicy.consecutiveFailureLimit,
    nextAttemptAtMs: null,
    biometricDisabled: false,
    trigger: null,
    supervisor: null,
    grantId: null,
    score: null,
    attempts: [],
    nowMs: now,
    ...patch,
  };
}

/** One attempt record (a failed match unless `patch` says otherwise). */
export function attempt(patch: Partial<AttemptRecord> = {}, now = Date.now()): AttemptRecord {
  return {
    seq: 1,
    tsMs: now,
    outcome: 'no_match',
    score: 0.08,
    threshold: mockPolicy.faceThreshold,
    scoreSource: 'fixture',
    detail: null,
    sample: null,
    ...patch,
  };
}

/** An override view with `patch` over a fixed active grant. */
export function overrideView(patch: Partial<OverrideView> = {}, now = Date.now()): OverrideView {
  return {
    id: 'ovr-fixture',
    sessionId: 'stp-fixture',
    operator: 'olga',
    supervisor: 'sam',
    trigger: 'failure_limit',
    requestedScope: ['payments.approve'],
    scope: ['payments.approve'],
    grantedAtMs: now,
    expiresAtMs: now + 15 * 60_000,
    reviewDueMs: now + 72 * HOUR,
    reasonCode: 'ENVIRONMENT',
    note: 'Low light at the counter',
    ticket: null,
    compensatingControl: 'Payments held for call-back',
    status: 'active',
    remainingMs: 15 * 60_000,
    review: null,
    reviewOverdue: false,
    reconciled: false,
    closed: false,
    nowMs: now,
    ...patch,
  };
}

const SAMPLE_URL = previewSvg('SAMPLE');

export function createFixtureBackend(options: FixtureOptions = {}): DemoBackend {
  const now = options.now ?? (() => Date.now());
  const production = options.production ?? false;
  const scene = production ? 'unplugged' : (options.scene ?? 'genuine-olga');
  const events: EventRow[] = [];
  let view: StepupView | null = null;
  let session: ConsoleSession | null = null;

  const row = (kind: string, fields: Partial<EventRow>): EventRow => ({
    seq: events.length + 1,
    tsMs: now(),
    kind,
    person: null,
    supervisor: null,
    outcome: null,
    trigger: null,
    caseId: null,
    samples: [],
    body: {},
    hashHex: ((events.length + 1) * 2654435761).toString(16).padStart(64, '0'),
    ...fields,
  });

  // A log with history: step-ups of olga and otto, a sample on each match.
  const kinds = ['stepup.requested', 'stepup.identified', 'stepup.intent', 'match.attempt', 'stepup.succeeded'];
  const seeded = options.seedEvents ?? 0;
  for (let i = 0; i < seeded; i++) {
    const k = i % kinds.length;
    const sha = (i + 1).toString(16).padStart(64, 'a');
    events.push(
      row(kinds[k]!, {
        tsMs: now() - (seeded - i) * 60_000,
        person: i % 2 ? 'olga' : 'otto',
        outcome: k === 3 ? 'matched' : null,
        caseId: `stp-seed${Math.floor(i / kinds.length)}`,
        samples: k === 3 ? [{ sha256: sha, mediaType: 'image/png', path: 'face.sample' }] : [],
      }),
    );
  }
  const overrides: OverrideView[] = [];
  if (options.seedOverrides) {
    const t = now();
    overrides.push(
      overrideView(
        {
          id: 'ovr-active02',
          sessionId: 'stp-recent',
          grantedAtMs: t - 5 * 60_000,
          expiresAtMs: t + 10 * 60_000,
          remainingMs: 10 * 60_000,
        },
        t,
      ),
      overrideView(
        {
          id: 'ovr-overdue01',
          sessionId: 'stp-old',
          operator: 'otto',
          supervisor: 'sue',
          trigger: 'device_unavailable',
          requestedScope: ['records.export'],
          scope: ['records.export'],
          grantedAtMs: t - 80 * HOUR,
          expiresAtMs: t - 80 * HOUR + 15 * 60_000,
          reviewDueMs: t - 8 * HOUR,
          reasonCode: 'SENSOR_FAULT',
          note: 'Camera unplugged during shift change',
          ticket: 'INC-2041',
          compensatingControl: 'Second approver on each export',
          status: 'expired',
          remainingMs: 0,
          reviewOverdue: true,
        },
        t,
      ),
    );
    for (const o of overrides) {
      events.push(
        row('override.granted', { caseId: o.id, person: o.operator, supervisor: o.supervisor, trigger: o.trigger, body: { ...o } }),
      );
    }
  }

  const captureStatus = (): CaptureStatus =>
    production || scene === 'unplugged'
      ? {
          replay: !production,
          source: production ? 'v4l2:none' : '/fixture/replay',
          scenes: production ? [] : Object.keys(SCENES),
          scene: null,
          device: null,
          error: { code: 'capture.not_found', message: 'no camera is attached' },
        }
      : {
          replay: true,
          source: '/fixture/replay',
          scenes: Object.keys(SCENES),
          scene,
          device: { id: `replay:${scene}`, driver: 'replay', name: `/fixture/replay/${scene}`, width: 480, height: 360, replay: true },
          error: null,
        };

  const fingerStatus = (): FingerStatus => ({
    virtualReader: !production,
    source: production ? 'first' : '/fixture/fingers',
    scenes: production ? [] : ['otto-right-index', 'someone-else', 'poor-scan', 'reader-removed'],
    scene: production ? null : (options.fingerScene ?? 'otto-right-index'),
    device: production
      ? null
      : { id: 'libfprint:virtual_image:0', driver: 'virtual_image', name: 'Virtual image device', width: 0, height: 0, replay: true },
    error: production ? { code: 'capture.not_found', message: 'no fingerprint reader' } : null,
    enrolled: ['otto'],
  });

  const current = (patch: Partial<StepupView> = {}): StepupView => {
    view = { ...(view ?? stepupView({}, now())), ...patch, nowMs: now() };
    return structuredClone(view);
  };

  const image = (sha256: string): SampleImage => ({
    sha256,
    mediaType: 'image/svg+xml',
    dataUrl: SAMPLE_URL,
    createdMs: now(),
    person: 'olga',
    caseId: view?.sessionId ?? null,
  });

  const fixed: DemoBackend = {
    async appInfo() {
      return { version: '0.0.0-fixture', kioskMode: false, consoleMode: false, dataDir: '(fixture)', dataDirInitialized: true };
    },
    async listPeople() {
      return structuredClone(people);
    },
    async policyView() {
      return { ...structuredClone(mockPolicy), demo: !production };
    },
    async demoCredentials() {
      return structuredClone(mockCredentials);
    },
    async startStepup(request) {
      view = null;
      return current({
        sessionId: 'stp-fixture',
        state: 'requested',
        requester: request.requester,
        scope: [...request.scope].sort(),
        operator: null,
        operatorName: null,
      });
    },
    async stepupStatus() {
      return current();
    },
    async identify(_sessionId, operator) {
      const p = people.find((x) => x.id === operator);
      return current({ state: 'identified', operator, operatorName: p?.displayName ?? operator });
    },
    async captureStatus() {
      return captureStatus();
    },
    async setReplayScene() {
      return captureStatus();
    },
    async previewFrame() {
      // No camera (a real kiosk without one, an unplugged replay): no frame.
      if (production || scene === 'unplugged') {
        throw new BackendError({ code: 'capture.not_found', message: 'no camera is attached' });
      }
      return {
        dataUrl: previewSvg(`REPLAY ${SCENES[scene]?.label ?? scene}`),
        width: 480,
        height: 360,
        replay: true,
        origin: '1.jpg',
        hint: SCENES[scene]?.hint ?? null,
      };
    },
    async enrollFace(r) {
      return { person: r.person, witness: r.witness, templateSha256: 'f'.repeat(64), acceptedCaptures: 2, replay: true };
    },
    async openRequests() {
      return [];
    },
    async takeRequest() {
      return current();
    },
    /** By default the match succeeds (a canned 0.720); tests script failures. */
    async verifyMe() {
      const v = current();
      const a = attempt({ outcome: 'matched', score: 0.72, seq: events.length + 1 }, now());
      return current({ state: 'succeeded', attemptNo: v.attemptNo + 1, score: 0.72, attempts: [...v.attempts, a] });
    },
    async cancelStepup() {
      return current({ state: 'cancelled' });
    },
    async supervisorLogin(login) {
      return current({ state: 'supervisor_authenticated', supervisor: login.supervisor });
    },
    async grantOverride(g) {
      const t = now();
      const minutes = g.durationMinutes ?? mockPolicy.defaultDurationMinutes;
      const o = overrideView(
        {
          id: 'ovr-granted',
          sessionId: g.sessionId,
          operator: view?.operator ?? 'olga',
          supervisor: view?.supervisor ?? 'sam',
          trigger: view?.trigger ?? 'failure_limit',
          requestedScope: view?.scope ?? g.scope,
          scope: [...g.scope],
          expiresAtMs: t + minutes * 60_000,
          remainingMs: minutes * 60_000,
          reasonCode: g.reasonCode,
          note: g.note,
          ticket: g.ticket,
          compensatingControl: g.compensatingControl,
        },
        t,
      );
      overrides.unshift(o);
      current({ state: 'override_granted', grantId: o.id });
      return structuredClone(o);
    },
    async listOverrides() {
      return structuredClone(overrides);
    },
    async revokeOverride(r) {
      const o = overrides.find((x) => x.id === r.grantId) ?? overrideView({ id: r.grantId }, now());
      Object.assign(o, { status: 'revoked', remainingMs: 0 });
      return structuredClone(o);
    },
    async reviewOverride(r) {
      const o = overrides.find((x) => x.id === r.grantId) ?? overrideView({ id: r.grantId }, now());
      o.review = { reviewer: r.reviewer, atMs: now(), disposition: r.disposition, notes: r.notes, overdue: o.reviewOverdue };
      overrides.splice(overrides.indexOf(o), 1);
      return structuredClone(o);
    },
    // Filters and keyset paging over the fixed log, so the log's screens
    // can be rendered at scale (the real query is the ledger's).
    async queryEvents(q: EventQuery): Promise<EventPage> {
      const match = (e: EventRow) =>
        (q.kinds.length === 0 || q.kinds.includes(e.kind)) &&
        (!q.person || e.person === q.person) &&
        (!q.supervisor || e.supervisor === q.supervisor) &&
        (!q.outcome || e.outcome === q.outcome) &&
        (!q.trigger || e.trigger === q.trigger) &&
        (!q.caseId || e.caseId === q.caseId) &&
        (q.fromMs === null || e.tsMs >= q.fromMs) &&
        (q.toMs === null || e.tsMs < q.toMs);
      const after = q.afterSeq;
      const limit = Math.min(Math.max(q.limit, 1), 1000);
      const rows: EventRow[] = [];
      const step = q.newestFirst ? -1 : 1;
      let i = q.newestFirst
        ? (after === null ? events.length : Math.min(events.length, after - 1)) - 1
        : after === null
          ? 0
          : Math.max(0, after);
      for (; i >= 0 && i < events.length && rows.length <= limit; i += step) {
        if (match(events[i]!)) rows.push(structuredClone(events[i]!));
      }
      const page = rows.slice(0, limit);
      return { rows: page, nextAfter: rows.length > limit ? page[page.length - 1]!.seq : null };
    },
    async verifyLedger() {
      return { ok: true, events: events.length, checkpoints: 0, problemCount: 0, firstProblem: null, checkedAtMs: now() };
    },
    async exportEvents(request) {
      return { path: `(fixture)/exports/evidence.${request.format}`, count: events.length };
    },
    async consoleSignIn(login) {
      const p = people.find((x) => x.id === login.person);
      session = { person: login.person, displayName: p?.displayName ?? login.person, role: login.role, signedInMs: now(), idleMinutes: 15 };
      return structuredClone(session);
    },
    async consoleSession() {
      return structuredClone(session);
    },
    async consoleSignOut() {
      session = null;
    },
    async openSample(sha256) {
      return image(sha256);
    },
    async openSessionSample(_sessionId, sha256) {
      return image(sha256);
    },
    async fingerStatus() {
      return fingerStatus();
    },
    async setFingerScene() {
      return fingerStatus();
    },
    async fingerProgress() {
      return { phase: 'idle', stage: 0, stages: 0, retryReason: null, virtualReader: !production };
    },
    async verifyFinger() {
      const v = current();
      const a = attempt({ outcome: 'matched', score: 60, threshold: 40, scoreSource: 'fixture', seq: events.length + 1 }, now());
      return current({ state: 'succeeded', attemptNo: v.attemptNo + 1, attempts: [...v.attempts, a] });
    },
    async enrollFinger(r) {
      return {
        person: r.person,
        finger: r.finger,
        witness: r.witness,
        templateSha256: 'e'.repeat(64),
        impressions: 5,
        deviceId: 'libfprint:virtual_image:0',
        virtualReader: true,
      };
    },
  };
  // A scripted step-up answer becomes the step-up's state, so the next
  // `stepupStatus` (the screens poll it) shows the same thing.
  const scripted = Object.fromEntries(
    Object.entries(options.script ?? {}).map(([name, fn]) => [
      name,
      async (...args: unknown[]) => {
        const answer: unknown = await (fn as (...a: unknown[]) => Promise<unknown>)(...args);
        if (answer && typeof answer === 'object' && 'sessionId' in answer && 'attempts' in answer) {
          view = structuredClone(answer as StepupView);
        }
        return answer;
      },
    ]),
  );
  return { ...fixed, ...scripted };
}

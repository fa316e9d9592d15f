// An in-memory stand-in for the Rust side, with the engine's rules in small:
// the attempt limit and throttle, fallback triggers, two factors, grants
// bounded by the policy cap, expiry by the clock, review only once a grant
// has ended and never by its operator or supervisor, an append-only event
// log with keyset paging. Used by component tests, browser tests and a plain
// browser (vite dev / preview without Tauri). It never touches real evidence.

import type { AppInfo } from '../bindings/AppInfo';
import type { AttemptRecord, StepupView } from '../bindings/StepupView';
import type { CaptureStatus } from '../bindings/CaptureStatus';
import type { PreviewFrame } from '../bindings/PreviewFrame';
import type { EventPage, EventRow } from '../bindings/EventPage';
import type { EventQuery } from '../bindings/EventQuery';
import type { OverrideView } from '../bindings/OverrideView';
import type { DemoBackend } from './backend';
import { BackendError } from './errors';
import { createSampleStore } from './mock-samples';
import { createFingerMock } from './mockFinger';
import { mockCredentials, mockPolicy, people, previewSvg, QUALITY_LIMIT, SCENES } from './mock-data';

export { mockCredentials, mockPolicy } from './mock-data';

interface Regime {
  failures: number;
  quality: number;
  lastFailureAt: number | null;
}

interface MockSession {
  view: StepupView;
  supervisorOk: boolean;
}

type MockOverride = Omit<OverrideView, 'status' | 'remainingMs' | 'reviewOverdue' | 'closed' | 'nowMs'> & {
  revokedAt: number | null;
};

export interface DemoOptions {
  now?: () => number;
  /** The replay scene the mock camera starts on (default `genuine-olga`). */
  scene?: string;
  /** The demo finger of the mock's virtual reader, and its pace (mockFinger.ts). */
  fingerScene?: string;
  fingerStepMs?: number;
  /** Historical events to start the log with (reviewer list at scale). */
  seedEvents?: number;
  /** Grants already in the log (one overdue for review, one active). */
  seedOverrides?: boolean;
  /**
   * A real kiosk's data dir (not `init --demo`), as the engine and the app
   * treat it: no replay camera and no camera (every attempt is
   * `device_unavailable`), no virtual reader, no scenes (choosing one is
   * `refused.demo_only`), no demo credentials.
   */
  production?: boolean;
}

function fail(code: string, message: string): never {
  throw new BackendError({ code, message });
}

export function createDemoBackend(options: DemoOptions = {}): DemoBackend {
  const now = options.now ?? (() => Date.now());
  const sessions = new Map<string, MockSession>();
  const regimes = new Map<string, Regime>();
  const overrides = new Map<string, MockOverride>();
  const events: EventRow[] = [];
  let counter = 0;
  const production = options.production ?? false;
  // A real kiosk without a camera behaves as an unplugged one for attempts.
  let scene = production ? 'unplugged' : (options.scene ?? 'genuine-olga');
  let frameNo = 0;
  const policy = { ...mockPolicy, demo: !production };
  const NO_CAMERA = 'capture device v4l2:none not found: no camera is attached (and a real kiosk never replays images instead)';

  function captureStatus(): CaptureStatus {
    if (production) {
      return {
        replay: false,
        source: 'v4l2:none',
        scenes: [],
        scene: null,
        device: null,
        error: { code: 'capture.not_found', message: NO_CAMERA },
      };
    }
    const unplugged = scene === 'unplugged';
    return {
      replay: true,
      source: '/mock/replay',
      scenes: Object.keys(SCENES),
      scene,
      device: unplugged
        ? null
        : { id: `replay:mock-${scene}`, driver: 'replay', name: `/mock/replay/${scene}`, width: 480, height: 360, replay: true },
      error: unplugged
        ? { code: 'capture.not_found', message: 'capture device replay:mock not found: the replay folder does not exist' }
        : null,
    };
  }

  const id = (prefix: string) => `${prefix}-${(++counter).toString(16).padStart(8, '0')}`;

  function log(kind: string, fields: Partial<EventRow> & { body?: Record<string, unknown> }) {
    const seq = events.length + 1;
    events.push({
      seq,
      tsMs: now(),
      kind,
      person: null,
      supervisor: null,
      outcome: null,
      trigger: null,
      caseId: null,
      samples: [],
      body: {},
      hashHex: (seq * 2654435761).toString(16).padStart(64, '0'),
      ...fields,
    });
  }

  const regime = (person: string): Regime => {
    let r = regimes.get(person);
    if (!r) {
      r = { failures: 0, quality: 0, lastFailureAt: null };
      regimes.set(person, r);
    }
    return r;
  };

  function nextAllowed(r: Regime): number | null {
    const limit = mockPolicy.consecutiveFailureLimit;
    if (r.failures < limit || r.lastFailureAt === null) return null;
    const wait = mockPolicy.throttleSeconds * 1000 * 2 ** Math.min(r.failures - limit, 16);
    return r.lastFailureAt + wait;
  }

  function refresh(s: MockSession): StepupView {
    const v = s.view;
    const r = v.operator ? regime(v.operator) : null;
    const next = r ? nextAllowed(r) : null;
    v.consecutiveFailures = r?.failures ?? 0;
    v.nextAttemptAtMs = next !== null && next > now() ? next : null;
    v.nowMs = now();
    return structuredClone(v);
  }

  function session(sessionId: string): MockSession {
    const s = sessions.get(sessionId);
    if (!s) fail('E_NO_SESSION', `no open step-up ${sessionId}`);
    return s;
  }

  function refuse(s: MockSession, code: string, message: string): never {
    log('stepup.refused', {
      caseId: s.view.sessionId,
      person: s.view.operator,
      outcome: 'refused',
      body: { refusal: code, message },
    });
    fail(`refused.${code}`, message);
  }

  function check2fa(personId: string, role: string, secret: string, otp: string) {
    const person = people.find((p) => p.id === personId);
    if (!person) fail('person.unknown', `unknown person ${personId}`);
    const cred = mockCredentials.find((c) => c.id === personId);
    const ok =
      cred !== undefined && cred.secret === secret && cred.otp === otp && person.roles.includes(role) && !person.locked;
    log('supervisor.auth', {
      person: personId,
      supervisor: personId,
      outcome: ok ? 'success' : 'failure',
      body: { role },
    });
    if (!ok) {
      person.failedAuths += 1;
      if (person.failedAuths >= 10) person.locked = true;
      fail(person.locked ? 'auth.locked' : 'auth.auth_failed', 'authentication failed');
    }
    person.failedAuths = 0;
  }

  const samples = createSampleStore({
    now,
    check2fa,
    log,
    sessionOf: (sessionId) => {
      const v = session(sessionId).view;
      return { state: v.state, supervisor: v.supervisor };
    },
  });

  function fire(s: MockSession, trigger: string) {
    s.view.state = 'fallback_offered';
    s.view.trigger = trigger;
    log('fallback.triggered', {
      caseId: s.view.sessionId,
      person: s.view.operator,
      trigger,
      outcome: 'fallback_offered',
      body: { trigger },
    });
  }

  function view(o: MockOverride): OverrideView {
    const t = now();
    const expired = t >= o.expiresAtMs;
    const ended = expired || o.revokedAt !== null;
    const status = o.revokedAt !== null ? 'revoked' : expired ? 'expired' : 'active';
    return {
      ...structuredClone(o),
      status,
      remainingMs: ended ? 0 : o.expiresAtMs - t,
      reviewOverdue: o.review === null && t > o.reviewDueMs,
      closed: o.review !== null && ended,
      nowMs: t,
    };
  }

  function override(grantId: string): MockOverride {
    const o = overrides.get(grantId);
    if (!o) fail('override.unknown', `unknown override ${grantId}`);
    return o;
  }

  function addOverride(o: Omit<MockOverride, 'revokedAt' | 'review' | 'reconciled'>): MockOverride {
    const full: MockOverride = { ...o, revokedAt: null, review: null, reconciled: false };
    overrides.set(o.id, full);
    log('override.granted', {
      caseId: o.id,
      person: o.operator,
      supervisor: o.supervisor,
      trigger: o.trigger,
      outcome: 'granted',
      body: { ...o },
    });
    return full;
  }

  // Seed data: a log with history, and two cases for the reviewer.
  const kinds = ['stepup.requested', 'stepup.identified', 'stepup.intent', 'match.attempt', 'stepup.succeeded'];
  for (let i = 0; i < (options.seedEvents ?? 0); i++) {
    const op = i % 2 ? 'olga' : 'otto';
    log(kinds[i % kinds.length]!, {
      tsMs: now() - (options.seedEvents! - i) * 60_000,
      person: op,
      outcome: i % kinds.length === 3 ? 'matched' : null,
      caseId: `stp-seed${Math.floor(i / kinds.length)}`,
      samples: i % kinds.length === 3 ? [samples.seal(op, `stp-seed${Math.floor(i / kinds.length)}`, `${op} (seed)`)] : [],
    });
  }
  if (options.seedOverrides) {
    const t = now();
    addOverride({
      id: 'ovr-overdue01',
      sessionId: 'stp-old',
      operator: 'otto',
      supervisor: 'sue',
      trigger: 'device_unavailable',
      requestedScope: ['records.export'],
      scope: ['records.export'],
      grantedAtMs: t - 80 * 3_600_000,
      expiresAtMs: t - 80 * 3_600_000 + 15 * 60_000,
      reviewDueMs: t - 8 * 3_600_000,
      reasonCode: 'SENSOR_FAULT',
      note: 'Camera unplugged during shift change',
      ticket: 'INC-2041',
      compensatingControl: 'Second approver on each export',
    });
    addOverride({
      id: 'ovr-active02',
      sessionId: 'stp-recent',
      operator: 'olga',
      supervisor: 'sam',
      trigger: 'failure_limit',
      requestedScope: ['payments.approve'],
      scope: ['payments.approve'],
      grantedAtMs: t - 5 * 60_000,
      expiresAtMs: t + 10 * 60_000,
      reviewDueMs: t + 72 * 3_600_000,
      reasonCode: 'ENVIRONMENT',
      note: 'Low light at the counter',
      ticket: null,
      compensatingControl: 'Payments above 10k held for call-back',
    });
  }

  const api: DemoBackend = {
    async appInfo(): Promise<AppInfo> {
      return { version: '0.0.0-mock', kioskMode: false, consoleMode: false, dataDir: '(in-memory demo)', dataDirInitialized: true };
    },
    async listPeople() {
      return structuredClone(people);
    },
    async policyView() {
      return structuredClone(policy);
    },
    async demoCredentials() {
      if (production) fail('E_NOT_DEMO', 'demo credentials exist only in a demo data dir (countersign init --demo)');
      return structuredClone(mockCredentials);
    },
    async startStepup(request) {
      for (const s of request.scope) {
        if (!mockPolicy.scopes.some((p) => p.name === s)) fail('refused.unknown_scope', `unknown scope ${s}`);
      }
      const sessionId = id('stp');
      const s: MockSession = {
        supervisorOk: false,
        view: {
          sessionId,
          state: 'requested',
          requester: request.requester,
          scope: [...request.scope].sort(),
          requestedAtMs: now(),
          operator: null,
          operatorName: null,
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
          nowMs: now(),
        },
      };
      sessions.set(sessionId, s);
      log('stepup.requested', { caseId: sessionId, body: { scope: request.scope, requester: request.requester } });
      return refresh(s);
    },
    async stepupStatus(sessionId) {
      return refresh(session(sessionId));
    },
    async identify(sessionId, operator) {
      const s = session(sessionId);
      const p = people.find((x) => x.id === operator);
      if (!p) fail('person.unknown', `unknown person ${operator}`);
      if (s.view.state !== 'requested') refuse(s, 'invalid_transition', `cannot identify in ${s.view.state}`);
      s.view.operator = p.id;
      s.view.operatorName = p.displayName;
      s.view.state = 'identified';
      log('stepup.identified', { caseId: sessionId, person: p.id });
      return refresh(s);
    },
    async captureStatus() {
      return captureStatus();
    },
    async setReplayScene(name) {
      if (production) fail('refused.demo_only', 'replay scenes exist only on a demo data dir (countersign init --demo)');
      if (!(name in SCENES) && name !== 'unplugged') fail('E_UNKNOWN_SCENE', `no replay scene "${name}"`);
      scene = name;
      return captureStatus();
    },
    async previewFrame(): Promise<PreviewFrame> {
      if (production) fail('capture.not_found', NO_CAMERA);
      if (scene === 'unplugged') fail('capture.not_found', 'capture device replay:mock not found: the replay folder does not exist');
      frameNo += 1;
      return {
        dataUrl: previewSvg(`REPLAY ${SCENES[scene]?.label ?? scene}`),
        width: 480,
        height: 360,
        replay: true,
        origin: `${frameNo % 2 === 0 ? 1 : 2}.jpg`,
        hint: SCENES[scene]?.hint ?? null,
      };
    },
    async enrollFace(r) {
      const p = people.find((x) => x.id === r.person);
      if (!p) fail('person.unknown', `unknown person ${r.person}`);
      if (!p.roles.includes('operator')) fail('biometric.not_operator', `${r.person} is not an operator`);
      if (r.witness === r.person) fail('biometric.self_witness', `${r.person} cannot witness their own enrollment`);
      check2fa(r.witness, 'supervisor', r.secret, r.otp);
      if (scene === 'unplugged') fail('capture.not_found', 'the replay folder does not exist');
      log('biometric.enrolled', { person: r.person, supervisor: r.witness, outcome: 'enrolled', body: { modality: 'face' } });
      return { person: r.person, witness: r.witness, templateSha256: 'f'.repeat(64), acceptedCaptures: 2, replay: true };
    },
    async openRequests() {
      // The mock has no relying applications; the real list comes from the API's requests.
      return [];
    },
    async takeRequest(requestId) {
      fail('input.invalid', `step-up request ${requestId} is not open (completed, answered or expired)`);
    },
    async verifyMe(sessionId) {
      const s = session(sessionId);
      const v = s.view;
      if (v.state !== 'identified' && v.state !== 'fallback_offered') {
        refuse(s, 'invalid_transition', `cannot start an attempt in ${v.state}`);
      }
      const r = regime(v.operator!);
      const next = nextAllowed(r);
      if (next !== null && now() < next) {
        refuse(s, 'throttled', `wait ${Math.ceil((next - now()) / 1000)} s before the next attempt`);
      }
      log('stepup.intent', { caseId: sessionId, person: v.operator });
      const record = (outcome: string, extra: Partial<AttemptRecord> = {}) => {
        const kind =
          outcome === 'unavailable'
            ? 'capture.device_unavailable'
            : outcome === 'quality_failed'
              ? 'capture.quality_failed'
              : 'match.attempt';
        const sample = kind === 'match.attempt' ? samples.seal(v.operator, sessionId, SCENES[scene]?.label ?? scene) : null;
        log(kind, {
          caseId: sessionId,
          person: v.operator,
          outcome,
          samples: sample ? [sample] : [],
          body: { ...extra, ...(sample ? { face: { sample: { sha256: sample.sha256, media_type: sample.mediaType } } } : {}) },
        });
        v.attempts.push({
          seq: events.length,
          tsMs: now(),
          outcome,
          score: null,
          threshold: null,
          scoreSource: null,
          detail: null,
          sample: sample?.sha256 ?? null,
          ...extra,
        });
      };
      if (scene === 'unplugged') {
        record('unavailable', {
          detail: production ? `capture.not_found: ${NO_CAMERA}` : 'capture.not_found: the replay folder does not exist',
        });
        fire(s, 'device_unavailable');
      } else if (SCENES[scene]?.hint) {
        r.quality += 1;
        record('quality_failed', { detail: `quality gates failed: ${SCENES[scene]?.hint}` });
        if (r.quality >= QUALITY_LIMIT) fire(s, 'capture_quality');
        else v.state = 'identified';
      } else {
        v.attemptNo += 1;
        // Scores as the real matcher gives them for the demo photos.
        const score = scene === 'impostor' || v.operator !== 'olga' ? 0.08 : 0.72;
        const padPassed = scene !== 'still-photo';
        const matched = padPassed && score >= mockPolicy.faceThreshold;
        record(matched ? 'matched' : 'no_match', {
          score,
          threshold: mockPolicy.faceThreshold,
          scoreSource: 'mock',
          detail: padPassed ? null : 'presentation-attack checks failed: static_replay',
        });
        if (matched) {
          r.failures = 0;
          r.quality = 0;
          v.state = 'succeeded';
          v.score = score;
          log('stepup.succeeded', { caseId: sessionId, person: v.operator, outcome: 'success' });
        } else {
          r.failures += 1;
          r.lastFailureAt = now();
          v.state = 'identified';
          if (r.failures >= mockPolicy.consecutiveFailureLimit) fire(s, 'failure_limit');
        }
      }
      return refresh(s);
    },
    async cancelStepup(sessionId, reason) {
      const s = session(sessionId);
      s.view.state = 'cancelled';
      log('stepup.cancelled', { caseId: sessionId, person: s.view.operator, outcome: 'cancelled', body: { reason } });
      return refresh(s);
    },
    async supervisorLogin(login) {
      const s = session(login.sessionId);
      if (s.view.state !== 'fallback_offered') {
        refuse(s, 'invalid_transition', `no fallback offered (state ${s.view.state})`);
      }
      check2fa(login.supervisor, 'supervisor', login.secret, login.otp);
      if (login.supervisor === s.view.operator) refuse(s, 'self_dealing', 'a supervisor cannot approve their own step-up');
      s.view.state = 'supervisor_authenticated';
      s.view.supervisor = login.supervisor;
      s.supervisorOk = true;
      return refresh(s);
    },
    async grantOverride(g) {
      const s = session(g.sessionId);
      const v = s.view;
      if (v.state !== 'supervisor_authenticated' || !s.supervisorOk) {
        refuse(s, 'invalid_transition', `cannot grant in ${v.state}`);
      }
      const minutes = g.durationMinutes ?? mockPolicy.defaultDurationMinutes;
      if (minutes > mockPolicy.maxDurationMinutes) {
        refuse(s, 'over_cap', `${minutes} min is over the policy cap of ${mockPolicy.maxDurationMinutes} min`);
      }
      if (minutes <= 0) refuse(s, 'no_expiry', 'the duration must be positive');
      if (g.scope.length === 0 || g.scope.some((x) => !v.scope.includes(x))) {
        refuse(s, 'scope_not_requested', 'the scope must be a non-empty subset of the request');
      }
      if (g.scope.some((x) => !mockPolicy.scopes.find((p) => p.name === x)?.supervisorMayGrant)) {
        refuse(s, 'scope_not_grantable', 'a supervisor may not grant this scope');
      }
      if (!mockPolicy.reasonCodes.some((r) => r.code === g.reasonCode)) refuse(s, 'unknown_reason', 'unknown reason code');
      if (!g.note.trim()) refuse(s, 'missing_field', 'note is required');
      if (!g.compensatingControl.trim()) refuse(s, 'missing_field', 'compensating_control is required');
      const t = now();
      const o = addOverride({
        id: id('ovr'),
        sessionId: v.sessionId,
        operator: v.operator!,
        supervisor: v.supervisor!,
        trigger: v.trigger!,
        requestedScope: [...v.scope],
        scope: [...g.scope].sort(),
        grantedAtMs: t,
        expiresAtMs: t + minutes * 60_000,
        reviewDueMs: t + mockPolicy.reviewDeadlineHours * 3_600_000,
        reasonCode: g.reasonCode,
        note: g.note,
        ticket: g.ticket && g.ticket.trim() ? g.ticket : null,
        compensatingControl: g.compensatingControl,
      });
      v.state = 'override_granted';
      v.grantId = o.id;
      return view(o);
    },
    async listOverrides(q) {
      let list = [...overrides.values()].map(view).reverse();
      if (q.operator) list = list.filter((o) => o.operator === q.operator);
      if (q.supervisor) list = list.filter((o) => o.supervisor === q.supervisor);
      if (q.activeOnly) list = list.filter((o) => o.status === 'active');
      if (q.pendingReview) {
        list = list.filter((o) => o.review === null);
        list.sort((a, b) => Number(b.reviewOverdue) - Number(a.reviewOverdue) || a.reviewDueMs - b.reviewDueMs);
      }
      return list.slice(0, Math.max(1, q.limit));
    },
    async revokeOverride(r) {
      const o = override(r.grantId);
      check2fa(r.by, r.role, r.secret, r.otp);
      if (!r.reason.trim()) fail('refused.missing_field', 'reason is required');
      // The core's codes (crates/core/src/override_case.rs): a used grant
      // may still be revoked; an expired or revoked one may not.
      const st = view(o).status;
      if (st === 'expired') fail('refused.expired', 'the override has already expired');
      if (st === 'revoked') fail('refused.revoked', 'the override was already revoked');
      o.revokedAt = now();
      log('override.revoked', { caseId: o.id, person: o.operator, supervisor: r.by, outcome: 'revoked', body: { reason: r.reason } });
      return view(o);
    },
    async reviewOverride(r) {
      const o = override(r.grantId);
      // In the core's order: separation of duties, once only, ended, notes
      // unless justified.
      if (r.reviewer === o.operator || r.reviewer === o.supervisor) {
        fail('refused.self_dealing', 'the reviewer must be neither the operator nor the supervisor');
      }
      if (o.review) fail('refused.already_done', 'already reviewed');
      if (view(o).status === 'active') fail('refused.invalid_transition', 'a live grant cannot be reviewed yet');
      if (r.disposition !== 'justified' && !r.notes.trim()) fail('refused.missing_field', 'notes are required');
      check2fa(r.reviewer, 'reviewer', r.secret, r.otp);
      o.review = {
        reviewer: r.reviewer,
        atMs: now(),
        disposition: r.disposition,
        notes: r.notes,
        overdue: now() > o.reviewDueMs,
      };
      log('override.reviewed', { caseId: o.id, person: o.operator, outcome: 'reviewed', body: { review: o.review } });
      return view(o);
    },
    async queryEvents(q: EventQuery): Promise<EventPage> {
      const match = (e: EventRow) =>
        (q.kinds.length === 0 || q.kinds.includes(e.kind)) &&
        (!q.person || e.person === q.person) &&
        (!q.supervisor || e.supervisor === q.supervisor) &&
        (!q.outcome || e.outcome === q.outcome) &&
        (!q.trigger || e.trigger === q.trigger) &&
        (!q.caseId || e.caseId === q.caseId) &&
        (q.fromMs === null || q.fromMs === undefined || e.tsMs >= q.fromMs) &&
        (q.toMs === null || q.toMs === undefined || e.tsMs < q.toMs);
      const after = q.afterSeq ?? null;
      const limit = Math.min(Math.max(q.limit, 1), 1000);
      const rows: EventRow[] = [];
      // Keyset paging as the ledger does it: events[i].seq === i + 1, so a
      // page starts next to `after` instead of walking the log from an end.
      const step = q.newestFirst ? -1 : 1;
      let i = q.newestFirst
        ? (after === null ? events.length : Math.min(events.length, after - 1)) - 1
        : after === null ? 0 : Math.max(0, after);
      for (; i >= 0 && i < events.length; i += step) {
        const e = events[i]!;
        if (!match(e)) continue;
        rows.push(structuredClone(e));
        if (rows.length > limit) break;
      }
      const more = rows.length > limit;
      const page = rows.slice(0, limit);
      return { rows: page, nextAfter: more ? page[page.length - 1]!.seq : null };
    },
    async verifyLedger() {
      return { ok: true, events: events.length, checkpoints: 0, problemCount: 0, firstProblem: null, checkedAtMs: now() };
    },
    async exportEvents(request) {
      if (request.format !== 'jsonl' && request.format !== 'ocsf') fail('input.invalid', 'unknown export format');
      const { rows } = await api.queryEvents({ ...request.query, limit: 1000, afterSeq: null });
      return { path: `(in-memory)/exports/evidence-${now()}.${request.format}`, count: rows.length };
    },
    ...samples.api,
    ...createFingerMock(
      {
        now,
        session,
        regime,
        nextAllowed,
        refuse,
        log,
        fire,
        refresh,
        check2fa,
        isOperator: (p) => people.some((x) => x.id === p && x.roles.includes('operator')),
        eventCount: () => events.length,
        failureLimit: mockPolicy.consecutiveFailureLimit,
        qualityLimit: QUALITY_LIMIT,
      },
      { scene: options.fingerScene, stepMs: options.fingerStepMs ?? 600, production },
    ),
  };
  return api;
}

// The mock's fingerprint reader: libfprint's virtual reader in small, with
// the same demo scenes as a demo data dir (`init --demo --demo-fingers`) and
// the engine's finger rules: libfprint decides match / no match (no score,
// 100 or 0 for the session), "scan again" is a quality failure, a removed
// reader is the device_unavailable trigger. The attempt regime (limit,
// wait, fallback) is the session's, shared with the face path in mock.ts.

import type { AttemptRecord, StepupView } from '../bindings/StepupView';
import type { FingerStatus } from '../bindings/FingerStatus';
import type { FingerProgress } from '../bindings/FingerProgress';
import type { FingerEnrollRequest, FingerEnrollResult } from '../bindings/FingerEnrollRequest';
import type { EventRow } from '../bindings/EventPage';
import { BackendError } from './errors';

export const FINGER_SCENES = ['otto-right-index', 'someone-else', 'poor-scan', 'reader-removed'] as const;

interface Regime {
  failures: number;
  quality: number;
  lastFailureAt: number | null;
}

interface Session {
  view: StepupView;
}

/** What the finger mock needs of the rest of the mock backend. */
export interface FingerMockContext {
  now(): number;
  session(id: string): Session;
  regime(person: string): Regime;
  nextAllowed(r: Regime): number | null;
  refuse(s: Session, code: string, message: string): never;
  log(kind: string, fields: Partial<EventRow> & { body?: Record<string, unknown> }): void;
  fire(s: Session, trigger: string): void;
  refresh(s: Session): StepupView;
  check2fa(person: string, role: string, secret: string, otp: string): void;
  isOperator(person: string): boolean;
  eventCount(): number;
  failureLimit: number;
  qualityLimit: number;
}

export interface FingerMockOptions {
  scene?: string;
  /** A real kiosk: no virtual reader, no reader at all, no scenes. */
  production?: boolean;
  /** Each of "waiting for the finger" and "scanning" lasts this long. */
  stepMs?: number;
}

function fail(code: string, message: string): never {
  throw new BackendError({ code, message });
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

const DEVICE = {
  id: 'libfprint:virtual_image:0',
  driver: 'virtual_image',
  name: 'Virtual image device for debugging',
  width: 0,
  height: 0,
  replay: true,
};

export function createFingerMock(ctx: FingerMockContext, options: FingerMockOptions = {}) {
  const production = options.production ?? false;
  // No reader on a real kiosk behaves as a removed one for attempts.
  let scene: string = production ? 'reader-removed' : (options.scene ?? 'otto-right-index');
  const stepMs = options.stepMs ?? 0;
  const enrolled = new Set<string>(['otto']);
  let progress: FingerProgress = { phase: 'idle', stage: 0, stages: 0, retryReason: null, virtualReader: !production };

  const phase = (p: string, stage = 0, stages = 1) => {
    progress = { phase: p, stage, stages, retryReason: null, virtualReader: !production };
  };

  function status(): FingerStatus {
    if (production) {
      return {
        virtualReader: false,
        source: 'first',
        scenes: [],
        scene: null,
        device: null,
        error: { code: 'capture.not_found', message: 'fingerprint reader first not found: libfprint lists 0 reader(s)' },
        enrolled: [...enrolled].sort(),
      };
    }
    return {
      virtualReader: true,
      source: '/mock/fingers',
      scenes: [...FINGER_SCENES],
      scene,
      device: { ...DEVICE },
      error: null,
      enrolled: [...enrolled].sort(),
    };
  }

  /** Waits for "the finger", then "scans" (the prompt polls the phases). */
  async function present(stage = 0, stages = 1) {
    phase('awaiting_finger', stage, stages);
    await sleep(stepMs);
    if (scene === 'reader-removed') return;
    phase('scanning', stage, stages);
    await sleep(stepMs);
  }

  return {
    async fingerStatus(): Promise<FingerStatus> {
      return status();
    },
    async setFingerScene(name: string): Promise<FingerStatus> {
      if (production) fail('refused.demo_only', 'demo finger scenes exist only on a demo data dir (countersign init --demo)');
      if (!(FINGER_SCENES as readonly string[]).includes(name)) fail('E_UNKNOWN_SCENE', `no demo finger scene "${name}"`);
      scene = name;
      return status();
    },
    async fingerProgress(): Promise<FingerProgress> {
      return { ...progress };
    },
    async verifyFinger(sessionId: string): Promise<StepupView> {
      const s = ctx.session(sessionId);
      const v = s.view;
      if (v.state !== 'identified' && v.state !== 'fallback_offered') {
        ctx.refuse(s, 'invalid_transition', `cannot start an attempt in ${v.state}`);
      }
      const r = ctx.regime(v.operator!);
      const next = ctx.nextAllowed(r);
      if (next !== null && ctx.now() < next) {
        ctx.refuse(s, 'throttled', `wait ${Math.ceil((next - ctx.now()) / 1000)} s before the next attempt`);
      }
      ctx.log('stepup.intent', { caseId: sessionId, person: v.operator });
      if (!enrolled.has(v.operator!)) {
        fail('biometric.not_enrolled', `${v.operator} has no finger enrollment`);
      }
      const record = (outcome: string, extra: Partial<AttemptRecord> = {}) => {
        const kind =
          outcome === 'unavailable'
            ? 'capture.device_unavailable'
            : outcome === 'quality_failed'
              ? 'capture.quality_failed'
              : 'match.attempt';
        ctx.log(kind, {
          caseId: sessionId,
          person: v.operator,
          outcome,
          body: { finger: { amr: ['fpt'], device: DEVICE, decision_source: 'libfprint', score: null }, ...extra },
        });
        v.attempts.push({
          seq: ctx.eventCount(),
          tsMs: ctx.now(),
          outcome,
          score: null,
          threshold: null,
          scoreSource: null,
          detail: null,
          sample: null,
          ...extra,
        });
      };
      phase('opening');
      try {
        await present();
        if (production) {
          record('unavailable', { detail: 'capture.not_found: libfprint lists no fingerprint reader (a virtual one never counts)' });
          ctx.fire(s, 'device_unavailable');
        } else if (scene === 'reader-removed') {
          record('unavailable', { detail: 'capture.unplugged: capture device libfprint:virtual_image:0 was unplugged' });
          ctx.fire(s, 'device_unavailable');
        } else if (scene === 'poor-scan') {
          r.quality += 1;
          record('quality_failed', {
            detail: 'scan on libfprint:virtual_image:0 must be repeated: poor scan quality',
          });
          if (r.quality >= ctx.qualityLimit) ctx.fire(s, 'capture_quality');
          else v.state = 'identified';
        } else {
          v.attemptNo += 1;
          const matched = scene === 'otto-right-index' && v.operator === 'otto';
          const score = matched ? 100 : 0;
          record(matched ? 'matched' : 'no_match', { score, threshold: 50, scoreSource: 'libfprint_decision' });
          if (matched) {
            r.failures = 0;
            r.quality = 0;
            v.state = 'succeeded';
            v.score = score;
            ctx.log('stepup.succeeded', { caseId: sessionId, person: v.operator, outcome: 'success' });
          } else {
            r.failures += 1;
            r.lastFailureAt = ctx.now();
            v.state = 'identified';
            if (r.failures >= ctx.failureLimit) ctx.fire(s, 'failure_limit');
          }
        }
      } finally {
        phase('idle', 0, 0);
      }
      return ctx.refresh(s);
    },
    async enrollFinger(r: FingerEnrollRequest): Promise<FingerEnrollResult> {
      if (!ctx.isOperator(r.person)) fail('biometric.not_operator', `${r.person} is not an operator`);
      if (r.witness === r.person) fail('biometric.self_witness', `${r.person} cannot witness their own enrollment`);
      ctx.check2fa(r.witness, 'supervisor', r.secret, r.otp);
      if (scene === 'reader-removed') fail('capture.unplugged', 'capture device libfprint:virtual_image:0 was unplugged');
      for (let stage = 0; stage < 5; stage++) await present(stage, 5);
      phase('idle', 0, 0);
      enrolled.add(r.person);
      ctx.log('biometric.enrolled', {
        person: r.person,
        supervisor: r.witness,
        outcome: 'enrolled',
        body: { modality: 'finger', finger: r.finger },
      });
      return {
        person: r.person,
        finger: r.finger,
        witness: r.witness,
        templateSha256: 'e'.repeat(64),
        impressions: 5,
        deviceId: DEVICE.id,
        virtualReader: true,
      };
    },
  };
}

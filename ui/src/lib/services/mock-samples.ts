// The mock's console session and sealed samples, for rendering the
// screens (the engine decides for real: service/console.rs, samples.rs).
// A reviewer or admin signs in with two factors; a reviewer may open any
// image sample; the supervisor who authenticated in a step-up may open that
// step-up's own samples before deciding. Every look is logged
// (`sample.viewed`). The images are drawings, not faces.

import type { Backend } from './backend';
import type { ConsoleSession } from '../bindings/ConsoleSession';
import type { SampleImage } from '../bindings/SampleImage';
import type { SampleRef } from '../bindings/SampleRef';
import { BackendError } from './errors';

interface Stored {
  person: string | null;
  caseId: string | null;
  createdMs: number;
  label: string;
}

/** What the sample store needs from the rest of the mock. */
export interface SampleContext {
  now: () => number;
  /** Throws unless `person` holds `role` and the factors are right; logs the try. */
  check2fa: (person: string, role: string, secret: string, otp: string) => void;
  log: (kind: string, fields: { person?: string | null; supervisor?: string | null; caseId?: string | null; body?: Record<string, unknown> }) => void;
  /** The step-up's state and supervisor, or throws E_NO_SESSION. */
  sessionOf: (sessionId: string) => { state: string; supervisor: string | null };
}

type SampleApi = Pick<Backend, 'consoleSignIn' | 'consoleSession' | 'consoleSignOut' | 'openSample' | 'openSessionSample'>;

function fail(code: string, message: string): never {
  throw new BackendError({ code, message });
}

function sampleSvg(label: string): string {
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="240" height="180" viewBox="0 0 240 180"><rect width="240" height="180" fill="#3a3f47"/><circle cx="120" cy="75" r="38" fill="#b89270"/><rect x="72" y="120" width="96" height="60" rx="30" fill="#566074"/><text x="120" y="172" font-family="sans-serif" font-size="13" fill="#fff" text-anchor="middle">${label}</text></svg>`;
  return `data:image/svg+xml;base64,${btoa(svg)}`;
}

export function createSampleStore(ctx: SampleContext) {
  const store = new Map<string, Stored>();
  let pass: ConsoleSession | null = null;
  let n = 0;

  /** Seals a mock sample; returns its reference for an event. */
  function seal(person: string | null, caseId: string | null, label: string): SampleRef {
    n += 1;
    const sha256 = (n * 2246822519).toString(16).padStart(8, '0').repeat(8).slice(0, 64);
    store.set(sha256, { person, caseId, createdMs: ctx.now(), label });
    return { sha256, mediaType: 'image/svg+xml', path: 'face.sample' };
  }

  function open(sha256: string, viewer: string, role: string, eventSeq: number | null): SampleImage {
    const s = store.get(sha256);
    if (!s) fail('sample.not_found', `no sample ${sha256}`);
    ctx.log('sample.viewed', {
      person: s.person,
      caseId: s.caseId,
      supervisor: role === 'supervisor' ? viewer : null,
      body: { sha256, viewer, role, purpose: role === 'supervisor' ? 'approval' : 'review', event_seq: eventSeq },
    });
    return {
      sha256,
      mediaType: 'image/svg+xml',
      dataUrl: sampleSvg(s.label),
      createdMs: s.createdMs,
      person: s.person,
      caseId: s.caseId,
    };
  }

  const api: SampleApi = {
    async consoleSignIn(login) {
      ctx.check2fa(login.person, login.role, login.secret, login.otp);
      pass = { person: login.person, displayName: login.person, role: login.role, signedInMs: ctx.now(), idleMinutes: 15 };
      return { ...pass };
    },
    async consoleSession() {
      return pass ? { ...pass } : null;
    },
    async consoleSignOut() {
      pass = null;
    },
    async openSample(sha256, eventSeq) {
      if (!pass) fail('console.no_session', 'sign in as reviewer with two factors first');
      if (pass.role !== 'reviewer') fail('console.wrong_role', `signed in as ${pass.role}, this needs reviewer`);
      return open(sha256, pass.person, 'reviewer', eventSeq);
    },
    async openSessionSample(sessionId, sha256) {
      const s = ctx.sessionOf(sessionId);
      if (s.state !== 'supervisor_authenticated' || !s.supervisor) {
        fail('sample.no_supervisor', 'samples open for the supervisor who authenticated in this step-up, before the decision');
      }
      if (store.get(sha256)?.caseId !== sessionId) {
        fail('sample.not_in_session', `sample ${sha256} does not belong to step-up ${sessionId}`);
      }
      return open(sha256, s.supervisor, 'supervisor', null);
    },
  };
  return { seal, api };
}

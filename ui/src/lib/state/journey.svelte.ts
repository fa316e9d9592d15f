// The step-up in progress, shared by the operator and supervisor screens,
// plus what both need from the policy and the people registry.

import type { GrantInput } from '../bindings/GrantInput';
import type { OverrideView } from '../bindings/OverrideView';
import type { Person } from '../bindings/Person';
import type { PolicyView } from '../bindings/PolicyView';
import type { RevokeInput } from '../bindings/RevokeInput';
import type { StepupView } from '../bindings/StepupView';
import type { SupervisorLogin } from '../bindings/SupervisorLogin';
import { type Backend, type BackendError, toBackendError } from '../services/backend';

export class Journey {
  policy = $state<PolicyView | null>(null);
  people = $state<Person[]>([]);
  stepup = $state<StepupView | null>(null);
  grant = $state<OverrideView | null>(null);
  error = $state<BackendError | null>(null);
  busy = $state(false);

  readonly backend: Backend;

  constructor(backend: Backend) {
    this.backend = backend;
  }

  get operators(): Person[] {
    return this.people.filter((p) => p.roles.includes('operator'));
  }

  get supervisors(): Person[] {
    return this.people.filter((p) => p.roles.includes('supervisor'));
  }

  get reviewers(): Person[] {
    return this.people.filter((p) => p.roles.includes('reviewer'));
  }

  /** Runs one backend call; an error is kept for the screen, not thrown. */
  async #run<T>(call: () => Promise<T>): Promise<T | null> {
    this.busy = true;
    this.error = null;
    try {
      return await call();
    } catch (error) {
      this.error = toBackendError(error);
      return null;
    } finally {
      this.busy = false;
    }
  }

  async load(): Promise<void> {
    await this.#run(async () => {
      const [policy, people] = await Promise.all([this.backend.policyView(), this.backend.listPeople()]);
      this.policy = policy;
      this.people = people;
    });
  }

  async start(scope: string[], requester: string): Promise<void> {
    this.grant = null;
    const v = await this.#run(() => this.backend.startStepup({ scope, requester }));
    if (v) this.stepup = v;
  }

  /** Runs a relying application's waiting request in this window. */
  async take(requestId: string): Promise<void> {
    this.grant = null;
    const v = await this.#run(() => this.backend.takeRequest(requestId));
    if (v) this.stepup = v;
  }

  async #onSession(call: (id: string) => Promise<StepupView>): Promise<void> {
    const id = this.stepup?.sessionId;
    if (!id) return;
    const v = await this.#run(() => call(id));
    if (v) this.stepup = v;
    else await this.refresh();
  }

  /** Re-reads the session (after a refused call, the engine's view wins). */
  async refresh(): Promise<void> {
    const id = this.stepup?.sessionId;
    if (!id) return;
    try {
      this.stepup = await this.backend.stepupStatus(id);
    } catch {
      // Keep the error of the call that failed.
    }
  }

  identify(operator: string): Promise<void> {
    return this.#onSession((id) => this.backend.identify(id, operator));
  }

  /** "Verify me": one capture attempt from the kiosk's camera (or replay). */
  verify(): Promise<void> {
    return this.#onSession((id) => this.backend.verifyMe(id));
  }

  /** "Verify me" with a finger: one verification on the kiosk's fingerprint reader. */
  verifyFinger(): Promise<void> {
    return this.#onSession((id) => this.backend.verifyFinger(id));
  }

  cancel(reason: string): Promise<void> {
    return this.#onSession((id) => this.backend.cancelStepup(id, reason));
  }

  login(login: Omit<SupervisorLogin, 'sessionId'>): Promise<void> {
    return this.#onSession((sessionId) => this.backend.supervisorLogin({ ...login, sessionId }));
  }

  async grantOverride(input: Omit<GrantInput, 'sessionId'>): Promise<void> {
    const sessionId = this.stepup?.sessionId;
    if (!sessionId) return;
    const g = await this.#run(() => this.backend.grantOverride({ ...input, sessionId }));
    if (g) {
      this.grant = g;
      await this.refresh();
    }
  }

  async revoke(input: Omit<RevokeInput, 'grantId'>): Promise<void> {
    const grantId = this.grant?.id;
    if (!grantId) return;
    const g = await this.#run(() => this.backend.revokeOverride({ ...input, grantId }));
    if (g) this.grant = g;
  }

  reset(): void {
    this.stepup = null;
    this.grant = null;
    this.error = null;
  }
}

export function createJourney(backend: Backend): Journey {
  return new Journey(backend);
}

// The console session (reviewers and admins). The Rust side holds it and
// checks it before every reviewer and admin command (service/console.rs):
// this store only mirrors who is signed in, so the screens can show the
// sign-in form, the signed-in bar, and drop the mirror when the backend
// says the session ended (idle, role change).

import type { Code } from '../bindings/Code';
import type { ConsoleRole } from '../bindings/ConsoleRole';
import type { ConsoleSession } from '../bindings/ConsoleSession';
import type { SampleImage } from '../bindings/SampleImage';
import type { Backend } from '../services/backend';

/** Codes meaning the session is gone (not merely the wrong role). */
const ENDED: readonly Code[] = ['console.no_session', 'console.expired', 'console.role_changed'];

export class ConsoleAuth {
  session = $state<ConsoleSession | null>(null);
  private readonly backend: Backend;

  constructor(backend: Backend) {
    this.backend = backend;
  }

  /** True when signed in as `role`. */
  is(role: ConsoleRole): boolean {
    return this.session?.role === role;
  }

  /** Asks the backend who is signed in (after a remount or an idle expiry). */
  async refresh(): Promise<void> {
    this.session = await this.backend.consoleSession();
  }

  async signIn(person: string, role: ConsoleRole, secret: string, otp: string): Promise<void> {
    this.session = await this.backend.consoleSignIn({ person, role, secret, otp });
  }

  async signOut(): Promise<void> {
    this.session = null;
    await this.backend.consoleSignOut();
  }

  /** A backend error: drops the mirror when it says the session ended. */
  noticed(e: unknown): void {
    const code = (e as { code?: Code }).code;
    if (code !== undefined && ENDED.includes(code)) this.session = null;
  }

  /** Opens a sealed sample as the signed-in reviewer. */
  async open(sha256: string, eventSeq: number | null): Promise<SampleImage> {
    try {
      return await this.backend.openSample(sha256, eventSeq);
    } catch (e) {
      this.noticed(e);
      throw e;
    }
  }
}

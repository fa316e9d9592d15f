// One admin act from a console form: the admin's two factors as typed,
// and what the act came to. The factors leave the form as the act is sent
// (a TOTP code signs one act); a refusal is shown with its code and also
// handed to `onerror` (the console ends the session on `console.*`). The
// rules are the engine's: this only carries the answer to the screen.
import { toBackendError } from '../services/backend';

export type AdminAuth = { secret: string; otp: string };

export class AdminAct {
  secret = $state('');
  otp = $state('');
  busy = $state(false);
  problem = $state<string | null>(null);
  done = $state<string | null>(null);

  constructor(private readonly onerror: (e: unknown) => void) {}

  /** Sends `call` with the factors typed now; its answer is the message shown. */
  async run(call: (auth: AdminAuth) => Promise<string | null>): Promise<void> {
    this.busy = true;
    this.problem = null;
    this.done = null;
    const auth = { secret: this.secret, otp: this.otp };
    this.secret = '';
    this.otp = '';
    try {
      this.done = await call(auth);
    } catch (err) {
      this.fail(err);
    } finally {
      this.busy = false;
    }
  }

  /** A refusal outside `run` (a read, a diff): shown the same way. */
  fail(err: unknown) {
    this.onerror(err);
    const b = toBackendError(err);
    this.problem = `${b.code}: ${b.message}`;
  }
}

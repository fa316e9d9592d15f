// The reviewer's sign-in for opening sealed samples. The pass itself lives
// in the backend (the engine decides and records); this store only mirrors
// who is signed in and until when, so screens can show it and drop it.

import type { ReviewerSession } from '../bindings/ReviewerSession';
import type { SampleImage } from '../bindings/SampleImage';
import type { Backend } from '../services/backend';

export class ReviewerPass {
  session = $state<ReviewerSession | null>(null);
  private readonly backend: Backend;

  constructor(backend: Backend) {
    this.backend = backend;
  }

  /** Asks the backend who is signed in (after a remount or an expiry). */
  async refresh(): Promise<void> {
    this.session = await this.backend.reviewerSession();
  }

  async signIn(reviewer: string, secret: string, otp: string): Promise<void> {
    this.session = await this.backend.reviewerSignIn({ reviewer, secret, otp });
  }

  async signOut(): Promise<void> {
    this.session = null;
    await this.backend.reviewerSignOut();
  }

  /** True while the pass is valid at `now`. */
  active(now: number): boolean {
    return this.session !== null && now < this.session.expiresAtMs;
  }

  /** Opens a sample; an expired or missing pass clears the mirror. */
  async open(sha256: string, eventSeq: number | null): Promise<SampleImage> {
    try {
      return await this.backend.openSample(sha256, eventSeq);
    } catch (e) {
      const code = (e as { code?: string }).code;
      if (code === 'E_NOT_SIGNED_IN' || code === 'sample.pass_expired') this.session = null;
      throw e;
    }
  }
}

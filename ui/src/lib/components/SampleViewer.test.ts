import { fireEvent, render, screen, within } from '@testing-library/svelte';
import { describe, expect, it } from 'vitest';
import { strings } from '../i18n/strings';
import { createMockBackend } from '../services/backend';
import { BackendError } from '../services/errors';
import { attempt, stepupView } from '../services/fixture';
import { Ticker } from '../state/clock.svelte';
import { ConsoleAuth } from '../state/console.svelte';
import { createJourney } from '../state/journey.svelte';
import ConsoleSignIn from './ConsoleSignIn.svelte';
import EvidenceLog from './EvidenceLog.svelte';
import ReviewerScreen from './ReviewerScreen.svelte';
import SampleViewer from './SampleViewer.svelte';
import SupervisorScreen from './SupervisorScreen.svelte';

const s = strings.samples;

/** Shows the first match.attempt event of the seeded log in detail. */
async function openAttemptEvent() {
  await screen.findByText(strings.log.rows(200));
  await fireEvent.change(screen.getByLabelText(strings.log.kind), { target: { value: 'match.attempt' } });
  await fireEvent.click(screen.getByRole('button', { name: strings.log.apply }));
  await screen.findByText(new RegExp(strings.log.rows(100)));
  const rows = within(screen.getByTestId('log-viewport')).getAllByRole('row');
  await fireEvent.click(rows[0]!);
  return screen.findByTestId('event-detail');
}

describe('sealed samples', () => {
  // Who may open a sample, and that each look is recorded, is the engine's
  // (src-tauri/tests/console.rs, the reviewer's browser journey on the real
  // service); here the screens render what it answers.
  it('stay closed in the log until a reviewer signs in; then open', async () => {
    const backend = createMockBackend({ seed: true });
    const auth = new ConsoleAuth(backend);
    render(ReviewerScreen, { props: { backend, auth, demo: true } });
    await fireEvent.click(screen.getByRole('tab', { name: strings.reviewer.views.log }));
    let detail = await openAttemptEvent();
    expect(within(detail).getByTestId('samples')).toHaveTextContent(s.count(1));
    expect(within(detail).getByTestId('samples-locked')).toHaveTextContent(s.needSignIn);
    expect(within(detail).queryByRole('button', { name: /Show sample/ })).toBeNull();

    await auth.signIn('rita', 'reviewer', 'rita-demo-pass', '333333');
    detail = screen.getByTestId('event-detail');
    await fireEvent.click(await within(detail).findByRole('button', { name: s.show('face.sample') }));
    const img = await within(detail).findByTestId('sample-image');
    expect(img.getAttribute('src')).toMatch(/^data:image\//);
    expect(img.getAttribute('alt')).toMatch(/^Captured sample of (olga|otto)$/);

    await auth.signOut();
    expect(await backend.consoleSession()).toBeNull();
  });

  it('refuse a wrong factor without opening anything', async () => {
    const backend = createMockBackend({
      seed: true,
      script: {
        async consoleSignIn(): Promise<never> {
          throw new BackendError({ code: 'auth.auth_failed', message: 'authentication failed' });
        },
      },
    });
    const auth = new ConsoleAuth(backend);
    render(ConsoleSignIn, { props: { backend, auth, role: 'reviewer' } });
    const signin = screen.getByTestId('console-signin');
    await fireEvent.input(within(signin).getByLabelText(strings.console.person), { target: { value: 'rita' } });
    await fireEvent.input(within(signin).getByLabelText(strings.supervisor.password), { target: { value: 'nope' } });
    await fireEvent.input(within(signin).getByLabelText(strings.supervisor.otp), { target: { value: '000000' } });
    await fireEvent.click(within(signin).getByRole('button', { name: strings.console.signIn }));
    expect(await within(signin).findByRole('alert')).toHaveTextContent('auth.auth_failed');
    expect(auth.session).toBeNull();
  });

  it('an evidence log without a pass says how to open them', async () => {
    render(EvidenceLog, { props: { backend: createMockBackend({ seed: true }) } });
    const detail = await openAttemptEvent();
    expect(within(detail).getByTestId('samples-locked')).toBeInTheDocument();
  });

  it("open for the supervisor once authenticated, for the step-up's own attempts", async () => {
    const t = 1_800_000_000_000;
    const sample = 'c'.repeat(64);
    const fellBack = {
      state: 'fallback_offered' as const,
      trigger: 'device_unavailable',
      attempts: [attempt({ seq: 1, sample }, t), attempt({ seq: 2, outcome: 'unavailable', score: null, threshold: null }, t)],
    };
    const journey = createJourney(
      createMockBackend({
        now: () => t,
        script: {
          verifyMe: async () => stepupView(fellBack, t),
          supervisorLogin: async () => stepupView({ ...fellBack, state: 'supervisor_authenticated', supervisor: 'sam' }, t),
        },
      }),
    );
    await journey.load();
    await journey.start(['payments.approve'], 'ledger-app');
    await journey.identify('olga');
    await journey.verify();
    expect(journey.stepup?.state).toBe('fallback_offered');
    render(SupervisorScreen, { props: { journey, clock: new Ticker(() => t) } });
    expect(screen.queryByText(s.supervisorTitle)).toBeNull();
    await journey.login({ supervisor: 'sam', secret: 'sam-demo-pass', otp: '111111' });
    expect(await screen.findByText(s.supervisorTitle)).toBeInTheDocument();
    await fireEvent.click(screen.getByRole('button', { name: s.show(s.showAttempt(1)) }));
    expect(await screen.findByTestId('sample-image')).toHaveAttribute('alt', s.alt('olga'));
  });

  it('lists attempts that share one sample (the same replayed frames) without failing', async () => {
    const sha = 'a'.repeat(64);
    const refs = [1, 2, 3].map((i) => ({ sha256: sha, mediaType: 'image/png', path: s.showAttempt(i) }));
    render(SampleViewer, {
      props: { refs, subject: 'olga', open: () => Promise.reject(new Error('not opened in this test')) },
    });
    expect(screen.getAllByRole('button')).toHaveLength(3);
  });
});

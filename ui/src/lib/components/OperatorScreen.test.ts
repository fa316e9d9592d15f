import { fireEvent, render, screen } from '@testing-library/svelte';
import { describe, expect, it } from 'vitest';
import { strings } from '../i18n/strings';
import { createMockBackend } from '../services/backend';
import type { DemoBackend } from '../services/backend';
import { attempt, stepupView } from '../services/fixture';
import { BackendError } from '../services/errors';
import { Ticker } from '../state/clock.svelte';
import { createJourney } from '../state/journey.svelte';
import OperatorScreen from './OperatorScreen.svelte';

const s = strings.operator;

async function setup(scene?: string, production = false, script?: Partial<DemoBackend>) {
  let t = 1_800_000_000_000;
  const now = () => t;
  const journey = createJourney(createMockBackend({ now, scene, production, script }));
  await journey.load();
  const clock = new Ticker(now);
  let fellBack = false;
  render(OperatorScreen, { props: { journey, clock, onfallback: () => (fellBack = true) } });
  return {
    journey,
    clock,
    advance: (ms: number) => {
      t += ms;
      clock.tick();
    },
    fellBack: () => fellBack,
  };
}

async function startAndIdentify() {
  await fireEvent.click(screen.getByRole('button', { name: s.start }));
  expect(await screen.findByText(s.asks('ledger-app'))).toBeInTheDocument();
  expect(screen.getByTestId('ask')).toHaveTextContent('Approve an outgoing payment');
  await fireEvent.click(screen.getByRole('button', { name: 'Olga Operator' }));
  await screen.findByText(s.identifiedAs('Olga Operator'));
}

const unavailable = {
  async verifyMe() {
    return stepupView({
      attemptNo: 0,
      state: 'fallback_offered',
      trigger: 'device_unavailable',
      attempts: [attempt({ outcome: 'unavailable', score: null, threshold: null, detail: 'capture.not_found: no camera' })],
    });
  },
  async setReplayScene(): Promise<never> {
    throw new BackendError({ code: 'refused.demo_only', message: 'replay scenes exist only on a demo data dir' });
  },
};

describe('OperatorScreen', () => {
  it('shows what asked and which scope, then verifies with an explicit "Verify me"', async () => {
    await setup();
    await startAndIdentify();
    // The preview says it is a replay, on the picture and in words.
    expect(await screen.findByTestId('replay-label')).toHaveTextContent(strings.camera.replayBadge);
    expect(await screen.findByTestId('preview')).toBeInTheDocument();
    await fireEvent.click(screen.getByTestId('verify-me'));
    expect(await screen.findByText(s.success)).toBeInTheDocument();
    expect(screen.getByTestId('result')).toHaveTextContent(s.successScore('0.720'));
    expect(screen.queryByTestId('verify-me')).not.toBeInTheDocument();
  });

  // The engine counts, throttles and fires the trigger (its transcripts in
  // crates/core/tests/it, and the browser journeys on the real service);
  // here the screen renders the states the engine answers with.
  it('shows failed attempts, the fallback with its reason, and the wait the engine asks for', async () => {
    const T0 = 1_800_000_000_000;
    let n = 0;
    const h = await setup(undefined, false, {
      async verifyMe() {
        n += 1;
        const attempts = Array.from({ length: n }, (_, i) => attempt({ seq: i + 1 }, T0));
        const last = n === 5;
        return stepupView(
          {
            attemptNo: n,
            consecutiveFailures: n,
            attempts,
            state: last ? 'fallback_offered' : 'identified',
            trigger: last ? 'failure_limit' : null,
            nextAttemptAtMs: last ? T0 + 30_000 : null,
          },
          T0,
        );
      },
    });
    await startAndIdentify();
    for (let i = 1; i <= 5; i++) {
      await fireEvent.click(screen.getByTestId('verify-me'));
      await screen.findByText(new RegExp(`${s.attempts(i)}`));
    }
    expect(screen.getByTestId('counts')).toHaveTextContent(s.failures(5, 5));
    const alert = await screen.findByTestId('fallback');
    expect(alert).toHaveTextContent(s.fallbackTitle);
    expect(alert).toHaveTextContent(strings.triggers.failure_limit);
    // The wait: Verify me is disabled and the wait is shown until it ends.
    expect(screen.getByTestId('verify-me')).toBeDisabled();
    expect(screen.getByRole('timer')).toHaveTextContent(s.wait(30));
    h.advance(30_000);
    await screen.findByText(s.verifyHint);
    expect(screen.getByTestId('verify-me')).toBeEnabled();
    await fireEvent.click(screen.getByRole('button', { name: s.askSupervisor }));
    expect(h.fellBack()).toBe(true);
  });

  it('a real kiosk shows no replay and no scene picker; no camera is device_unavailable', async () => {
    const h = await setup(undefined, true, unavailable);
    expect(h.journey.policy?.demo).toBe(false);
    await startAndIdentify();
    expect(await screen.findByTestId('hint')).toHaveTextContent(strings.camera.unavailable);
    expect(screen.queryByTestId('replay-label')).not.toBeInTheDocument();
    expect(screen.queryByRole('combobox', { name: strings.camera.scene })).not.toBeInTheDocument();
    await expect(h.journey.backend.setReplayScene('impostor')).rejects.toMatchObject({ code: 'refused.demo_only' });
    await fireEvent.click(screen.getByTestId('verify-me'));
    expect(await screen.findByTestId('fallback')).toHaveTextContent(strings.triggers.device_unavailable);
  });

  it('a demo data dir shows the replay scene picker', async () => {
    await setup();
    await startAndIdentify();
    expect(await screen.findByRole('combobox', { name: strings.camera.scene })).toBeInTheDocument();
  });

  it('a camera that is unavailable offers the fallback at once', async () => {
    await setup('unplugged', false, unavailable);
    await startAndIdentify();
    expect(await screen.findByTestId('hint')).toHaveTextContent(strings.camera.unavailable);
    await fireEvent.click(screen.getByTestId('verify-me'));
    expect(await screen.findByTestId('fallback')).toHaveTextContent(strings.triggers.device_unavailable);
  });

  it('can be cancelled and started again', async () => {
    await setup();
    await startAndIdentify();
    await fireEvent.click(screen.getByRole('button', { name: s.cancel }));
    expect(await screen.findByText(s.cancelled)).toBeInTheDocument();
    await fireEvent.click(screen.getByRole('button', { name: s.newRequest }));
    expect(await screen.findByRole('button', { name: s.start })).toBeInTheDocument();
  });
});

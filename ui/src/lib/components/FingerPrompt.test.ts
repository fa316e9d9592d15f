import { fireEvent, render, screen } from '@testing-library/svelte';
import { describe, expect, it } from 'vitest';
import type { FingerPhase } from '../bindings/FingerProgress';
import type { StepupView } from '../bindings/StepupView';
import { strings } from '../i18n/strings';
import { createMockBackend, type DemoBackend } from '../services/backend';
import { attempt, stepupView } from '../services/fixture';
import { Ticker } from '../state/clock.svelte';
import { createJourney } from '../state/journey.svelte';
import OperatorScreen from './OperatorScreen.svelte';

const s = strings.operator;
const f = strings.finger;
const T0 = 1_800_000_000_000;

// The reader, the matching, the counting and the triggers are the engine's
// and the helper's (src-tauri/tests/finger.rs and the finger browser journey
// on the real service, over libfprint's virtual device); here the prompt
// renders the states it is given.
async function setup(script: Partial<DemoBackend> = {}, production = false) {
  let t = T0;
  const now = () => t;
  const journey = createJourney(createMockBackend({ now, production, script }));
  await journey.load();
  const clock = new Ticker(now);
  render(OperatorScreen, { props: { journey, clock } });
  await fireEvent.click(screen.getByRole('button', { name: s.start }));
  await screen.findByText(s.asks('ledger-app'));
  return {
    identify: async (name: string) => {
      await fireEvent.click(screen.getByRole('button', { name }));
      await screen.findByText(s.identifiedAs(name));
    },
    advance: (ms: number) => {
      t += ms;
      clock.tick();
    },
  };
}

/** Otto's step-up as the engine answers a finger attempt. */
const otto = (patch: Partial<StepupView>) =>
  stepupView({ operator: 'otto', operatorName: 'Otto Operator', ...patch }, T0);
const fingerAttempt = (seq: number, outcome: string, detail: string | null = null) =>
  attempt({ seq, outcome, score: outcome === 'matched' ? 60 : 5, threshold: 40, scoreSource: 'libfprint', detail }, T0);

const readerGone: Partial<DemoBackend> = {
  verifyFinger: async () =>
    otto({
      state: 'fallback_offered',
      trigger: 'device_unavailable',
      attempts: [fingerAttempt(1, 'unavailable', 'capture.unplugged')],
    }),
};

describe('FingerPrompt (operator enrolled with a finger)', () => {
  it('prompts to place the finger, shows the scan, then the match, labelled VIRTUAL', async () => {
    let phase: FingerPhase = 'idle';
    let release: () => void = () => {};
    const h = await setup({
      fingerProgress: async () => ({ phase, stage: 0, stages: 1, retryReason: null, virtualReader: true }),
      verifyFinger: () =>
        new Promise((done) => {
          release = () => done(otto({ state: 'succeeded', attemptNo: 1, attempts: [fingerAttempt(1, 'matched')] }));
        }),
    });
    await h.identify('Otto Operator');
    const prompt = await screen.findByTestId('finger-prompt');
    expect(screen.queryByTestId('camera')).not.toBeInTheDocument();
    expect(await screen.findByTestId('virtual-label')).toHaveTextContent(f.virtualBadge);
    expect(prompt).toHaveTextContent(f.hint);
    await fireEvent.click(screen.getByTestId('verify-finger'));
    phase = 'awaiting_finger';
    expect(await screen.findByText(f.phase('awaiting_finger'))).toBeInTheDocument();
    expect(screen.getByTestId('verify-finger')).toBeDisabled();
    phase = 'scanning';
    expect(await screen.findByText(f.phase('scanning'))).toBeInTheDocument();
    release();
    expect(await screen.findByText(s.success)).toBeInTheDocument();
    expect(screen.queryByTestId('finger-prompt')).not.toBeInTheDocument();
  });

  it('not matched: shows the failures, then the fallback and the wait the engine asks for', async () => {
    let n = 0;
    const h = await setup({
      async verifyFinger() {
        n += 1;
        const last = n === 5;
        return otto({
          attemptNo: n,
          consecutiveFailures: n,
          attempts: Array.from({ length: n }, (_, i) => fingerAttempt(i + 1, 'no_match')),
          state: last ? 'fallback_offered' : 'identified',
          trigger: last ? 'failure_limit' : null,
          nextAttemptAtMs: last ? T0 + 30_000 : null,
        });
      },
    });
    await h.identify('Otto Operator');
    await screen.findByTestId('finger-prompt');
    for (let i = 1; i <= 4; i++) {
      await fireEvent.click(screen.getByTestId('verify-finger'));
      await screen.findByText(s.attempts(i), { exact: false });
      expect(await screen.findByTestId('finger-result')).toHaveTextContent(f.notMatched);
    }
    await fireEvent.click(screen.getByTestId('verify-finger'));
    const alert = await screen.findByTestId('fallback');
    expect(alert).toHaveTextContent(f.fallbackTitle);
    expect(alert).toHaveTextContent(strings.triggers.failure_limit);
    expect(screen.getByTestId('counts')).toHaveTextContent(s.failures(5, 5));
    expect(screen.getByTestId('verify-finger')).toBeDisabled();
    expect(screen.getByRole('timer')).toHaveTextContent(s.wait(30));
    h.advance(30_000);
    await screen.findByText(f.hint);
    expect(screen.getByTestId('verify-finger')).toBeEnabled();
  });

  it('a poor scan asks to scan again with the reason, not a failed match', async () => {
    const detail = 'scan on libfprint:virtual_image:0 must be repeated: poor scan quality';
    const h = await setup({
      verifyFinger: async () => otto({ attemptNo: 0, attempts: [fingerAttempt(1, 'quality_failed', detail)] }),
    });
    await h.identify('Otto Operator');
    await fireEvent.click(await screen.findByTestId('verify-finger'));
    const r = await screen.findByTestId('finger-result');
    expect(r).toHaveTextContent(f.retry(detail));
    expect(r).toHaveAttribute('data-result', 'retry');
    expect(screen.getByTestId('counts')).toHaveTextContent(s.failures(0, 5));
  });

  it('a removed reader offers the fallback at once (device unavailable)', async () => {
    const h = await setup(readerGone);
    await h.identify('Otto Operator');
    await fireEvent.click(await screen.findByTestId('verify-finger'));
    expect(await screen.findByTestId('fallback')).toHaveTextContent(strings.triggers.device_unavailable);
  });

  it('the demo finger can be changed from the keyboard-operable select', async () => {
    const chosen: string[] = [];
    const h = await setup({
      async setFingerScene(scene) {
        chosen.push(scene);
        return { ...(await createMockBackend().fingerStatus()), scene };
      },
    });
    await h.identify('Otto Operator');
    const select = await screen.findByRole('combobox', { name: f.scene });
    expect(select).toHaveValue('otto-right-index');
    await fireEvent.change(select, { target: { value: 'someone-else' } });
    await expect.poll(() => chosen).toEqual(['someone-else']);
  });

  it('a real kiosk has no virtual reader and no scenes; no reader is device_unavailable', async () => {
    const h = await setup(readerGone, true);
    await h.identify('Otto Operator');
    await screen.findByTestId('verify-finger');
    expect(screen.queryByRole('combobox', { name: f.scene })).not.toBeInTheDocument();
    expect(screen.queryByText(f.virtualNote)).not.toBeInTheDocument();
    await fireEvent.click(screen.getByTestId('verify-finger'));
    expect(await screen.findByTestId('fallback')).toHaveTextContent(strings.triggers.device_unavailable);
  });

  it('an operator without a finger enrolled gets the camera, not the fingerprint prompt', async () => {
    const h = await setup();
    await h.identify('Olga Operator');
    expect(await screen.findByTestId('camera')).toBeInTheDocument();
    expect(screen.queryByTestId('finger-prompt')).not.toBeInTheDocument();
  });
});

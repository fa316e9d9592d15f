import { fireEvent, render, screen } from '@testing-library/svelte';
import { describe, expect, it } from 'vitest';
import { strings } from '../i18n/strings';
import { createMockBackend } from '../services/backend';
import { Ticker } from '../state/clock.svelte';
import { createJourney } from '../state/journey.svelte';
import OperatorScreen from './OperatorScreen.svelte';

const s = strings.operator;
const f = strings.finger;

async function setup(fingerScene: string, fingerStepMs = 0, production = false) {
  let t = 1_800_000_000_000;
  const now = () => t;
  const journey = createJourney(createMockBackend({ now, fingerScene, fingerStepMs, production }));
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

describe('FingerPrompt (operator enrolled with a finger)', () => {
  it('prompts to place the finger, shows the scan, then the match, labelled VIRTUAL', async () => {
    const h = await setup('otto-right-index', 400);
    await h.identify('Otto Operator');
    const prompt = await screen.findByTestId('finger-prompt');
    expect(screen.queryByTestId('camera')).not.toBeInTheDocument();
    expect(await screen.findByTestId('virtual-label')).toHaveTextContent(f.virtualBadge);
    expect(prompt).toHaveTextContent(f.hint);
    await fireEvent.click(screen.getByTestId('verify-finger'));
    expect(await screen.findByText(f.phase('awaiting_finger'))).toBeInTheDocument();
    expect(screen.getByTestId('verify-finger')).toBeDisabled();
    expect(await screen.findByText(f.phase('scanning'))).toBeInTheDocument();
    expect(await screen.findByText(s.success)).toBeInTheDocument();
    expect(screen.queryByTestId('finger-prompt')).not.toBeInTheDocument();
  });

  it('not matched: counts the failures, then the fallback and the enforced wait', async () => {
    const h = await setup('someone-else');
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
    const h = await setup('poor-scan');
    await h.identify('Otto Operator');
    await fireEvent.click(await screen.findByTestId('verify-finger'));
    const r = await screen.findByTestId('finger-result');
    expect(r).toHaveTextContent(f.retry('scan on libfprint:virtual_image:0 must be repeated: poor scan quality'));
    expect(r).toHaveAttribute('data-result', 'retry');
    expect(screen.getByTestId('counts')).toHaveTextContent(s.failures(0, 5));
  });

  it('a removed reader offers the fallback at once (device unavailable)', async () => {
    const h = await setup('reader-removed');
    await h.identify('Otto Operator');
    await fireEvent.click(await screen.findByTestId('verify-finger'));
    expect(await screen.findByTestId('fallback')).toHaveTextContent(strings.triggers.device_unavailable);
  });

  it('the demo finger can be changed from the keyboard-operable select', async () => {
    const h = await setup('otto-right-index');
    await h.identify('Otto Operator');
    const select = await screen.findByRole('combobox', { name: f.scene });
    expect(select).toHaveValue('otto-right-index');
    await fireEvent.change(select, { target: { value: 'someone-else' } });
    await fireEvent.click(screen.getByTestId('verify-finger'));
    expect(await screen.findByTestId('finger-result')).toHaveTextContent(f.notMatched);
  });

  it('a real kiosk has no virtual reader and no scenes; no reader is device_unavailable', async () => {
    const h = await setup('otto-right-index', 0, true);
    await h.identify('Otto Operator');
    await screen.findByTestId('verify-finger');
    expect(screen.queryByRole('combobox', { name: f.scene })).not.toBeInTheDocument();
    expect(screen.queryByText(f.virtualNote)).not.toBeInTheDocument();
    await fireEvent.click(screen.getByTestId('verify-finger'));
    expect(await screen.findByTestId('fallback')).toHaveTextContent(strings.triggers.device_unavailable);
  });

  it('an operator without a finger enrolled gets the camera, not the fingerprint prompt', async () => {
    const h = await setup('otto-right-index');
    await h.identify('Olga Operator');
    expect(await screen.findByTestId('camera')).toBeInTheDocument();
    expect(screen.queryByTestId('finger-prompt')).not.toBeInTheDocument();
  });
});

import { fireEvent, render, screen } from '@testing-library/svelte';
import { describe, expect, it } from 'vitest';
import { strings } from '../i18n/strings';
import { createMockBackend } from '../services/backend';
import { Ticker } from '../state/clock.svelte';
import { createJourney } from '../state/journey.svelte';
import OperatorScreen from './OperatorScreen.svelte';

const s = strings.operator;

async function setup(scene?: string, production = false) {
  let t = 1_800_000_000_000;
  const now = () => t;
  const journey = createJourney(createMockBackend({ now, scene, production }));
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

  it('counts failed attempts, offers the fallback with its reason, enforces the wait', async () => {
    const h = await setup();
    await startAndIdentify();
    const scene = await screen.findByRole('combobox', { name: strings.camera.scene });
    await fireEvent.change(scene, { target: { value: 'impostor' } });
    for (let i = 1; i <= 5; i++) {
      await fireEvent.click(screen.getByTestId('verify-me'));
      await screen.findByText(new RegExp(`${s.attempts(i)}`));
    }
    expect(screen.getByTestId('counts')).toHaveTextContent(s.failures(5, 5));
    const alert = await screen.findByTestId('fallback');
    expect(alert).toHaveTextContent(s.fallbackTitle);
    expect(alert).toHaveTextContent(strings.triggers.failure_limit);
    // The throttle: Verify me is disabled and the wait is shown.
    expect(screen.getByTestId('verify-me')).toBeDisabled();
    expect(screen.getByRole('timer')).toHaveTextContent(s.wait(30));
    h.advance(30_000);
    await screen.findByText(s.verifyHint);
    expect(screen.getByTestId('verify-me')).toBeEnabled();
    await fireEvent.click(screen.getByRole('button', { name: s.askSupervisor }));
    expect(h.fellBack()).toBe(true);
  });

  it('a real kiosk shows no replay and no scene picker; no camera is device_unavailable', async () => {
    const h = await setup(undefined, true);
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
    await setup('unplugged');
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

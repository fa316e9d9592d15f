import { fireEvent, render, screen } from '@testing-library/svelte';
import { describe, expect, it } from 'vitest';
import { strings } from '../i18n/strings';
import { createMockBackend } from '../services/backend';
import { Ticker } from '../state/clock.svelte';
import { createJourney } from '../state/journey.svelte';
import OperatorScreen from './OperatorScreen.svelte';

const s = strings.operator;

async function setup() {
  let t = 1_800_000_000_000;
  const now = () => t;
  const journey = createJourney(createMockBackend({ now }));
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

function chooseScore(score: number) {
  const input = screen.getByRole('spinbutton', { name: s.score });
  return fireEvent.input(input, { target: { value: String(score) } });
}

describe('OperatorScreen', () => {
  it('shows what asked and which scope, then verifies with an explicit "Verify me"', async () => {
    await setup();
    await startAndIdentify();
    expect(screen.getByRole('group', { name: s.demoPanelTitle })).toBeInTheDocument();
    await fireEvent.click(screen.getByTestId('verify-me'));
    expect(await screen.findByText(s.success)).toBeInTheDocument();
    expect(screen.getByRole('status')).toHaveTextContent(s.successScore('0.800'));
    expect(screen.queryByTestId('verify-me')).not.toBeInTheDocument();
  });

  it('counts failed attempts, offers the fallback with its reason, enforces the wait', async () => {
    const h = await setup();
    await startAndIdentify();
    await chooseScore(0.1);
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

  it('a camera that is unavailable offers the fallback at once', async () => {
    await setup();
    await startAndIdentify();
    await fireEvent.click(screen.getByRole('radio', { name: s.demoDevice }));
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

import { fireEvent, render, screen, within } from '@testing-library/svelte';
import { describe, expect, it } from 'vitest';
import { strings } from '../i18n/strings';
import { createMockBackend, type Backend } from '../services/backend';
import { BackendError } from '../services/errors';
import ReviewerScreen from './ReviewerScreen.svelte';
import { ConsoleAuth } from '../state/console.svelte';

const s = strings.reviewer;

/** Rita signed in to the console (the review is the signed-in reviewer's). */
async function signedIn(backend: Backend): Promise<ConsoleAuth> {
  const auth = new ConsoleAuth(backend);
  await auth.signIn('rita', 'reviewer', 'rita-demo-pass', '333333');
  return auth;
}

describe('ReviewerScreen', () => {
  it('lists overdue reviews first, reviews one with two factors', async () => {
    const backend = createMockBackend({ seed: true });
    render(ReviewerScreen, { props: { backend, auth: await signedIn(backend), demo: true } });
    const cases = await screen.findByTestId('cases');
    const items = within(cases).getAllByRole('button');
    expect(items).toHaveLength(2);
    expect(items[0]).toHaveTextContent(s.overdue);
    expect(items[0]).toHaveTextContent('ovr-overdue01');
    expect(items[1]).toHaveTextContent(s.live);

    await fireEvent.click(items[0]!);
    const detail = await screen.findByTestId('case-detail');
    expect(detail).toHaveTextContent('INC-2041');
    await fireEvent.click(within(detail).getByRole('radio', { name: s.dispositions.needs_follow_up }));
    await fireEvent.input(within(detail).getByLabelText(s.notes), { target: { value: 'camera replaced' } });
    await fireEvent.click(within(detail).getByRole('button', { name: strings.supervisor.fillDemo }));
    await new Promise((r) => setTimeout(r, 0));
    await fireEvent.submit(screen.getByTestId('review-form'));
    expect(await screen.findByText(`✔ ${s.reviewed('rita', s.dispositions.needs_follow_up)}`)).toBeInTheDocument();
    expect(within(await screen.findByTestId('cases')).getAllByRole('button')).toHaveLength(1);
  });

  it('shows a refused review next to its form, and keeps it there', async () => {
    // The engine's answer to reviewing a grant still in force.
    const backend = createMockBackend({
      seed: true,
      script: {
        async reviewOverride(): Promise<never> {
          throw new BackendError({ code: 'refused.invalid_transition', message: 'a live grant cannot be reviewed yet' });
        },
      },
    });
    render(ReviewerScreen, { props: { backend, auth: await signedIn(backend), demo: true } });
    const items = within(await screen.findByTestId('cases')).getAllByRole('button');
    await fireEvent.click(items[1]!); // still in force: too early to review
    const detail = await screen.findByTestId('case-detail');
    await fireEvent.input(within(detail).getByLabelText(s.notes), { target: { value: 'early' } });
    await fireEvent.click(within(detail).getByRole('button', { name: strings.supervisor.fillDemo }));
    await new Promise((r) => setTimeout(r, 0));
    await fireEvent.submit(screen.getByTestId('review-form'));
    expect(await within(detail).findByRole('alert')).toHaveTextContent('refused.invalid_transition');
    await new Promise((r) => setTimeout(r, 0));
    expect(within(detail).getByRole('alert')).toHaveTextContent('refused.invalid_transition');
  });

  it('verifies the chain and exports', async () => {
    const backend = createMockBackend({ seed: true });
    render(ReviewerScreen, { props: { backend, auth: await signedIn(backend) } });
    expect(screen.getByTestId('verify-status')).toHaveTextContent(s.notVerified);
    await fireEvent.click(screen.getByRole('button', { name: s.verify }));
    expect(await screen.findByText(/Verified at .+, up to event \d+: \d+ events/)).toBeInTheDocument();
    await fireEvent.click(screen.getByRole('tab', { name: s.views.overview }));
    await fireEvent.click(screen.getByRole('button', { name: s.exportOcsf }));
    expect(await screen.findByText(/Exported \d+ events to/)).toBeInTheDocument();
  });

  it('switches views from the tab list with the arrow keys', async () => {
    const backend = createMockBackend({ seed: true });
    render(ReviewerScreen, { props: { backend, auth: await signedIn(backend) } });
    const queue = screen.getByRole('tab', { name: new RegExp(`^${s.views.queue}`) });
    expect(queue).toHaveAttribute('aria-selected', 'true');
    expect(await screen.findByTestId('cases')).toBeInTheDocument();
    await fireEvent.keyDown(queue, { key: 'ArrowRight' });
    const log = screen.getByRole('tab', { name: s.views.log });
    expect(log).toHaveAttribute('aria-selected', 'true');
    expect(document.activeElement).toBe(log);
    expect(await screen.findByRole('grid', { name: strings.log.title })).toBeInTheDocument();
    expect(screen.queryByTestId('cases')).toBeNull();
    await fireEvent.keyDown(log, { key: 'End' });
    expect(screen.getByRole('tab', { name: s.views.overview })).toHaveAttribute('aria-selected', 'true');
    expect(await screen.findByTestId('dashboard')).toBeInTheDocument();
  });
});

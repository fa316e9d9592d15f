import { fireEvent, render, screen, within } from '@testing-library/svelte';
import { describe, expect, it } from 'vitest';
import { strings } from '../i18n/strings';
import { createMockBackend } from '../services/backend';
import { createJourney } from '../state/journey.svelte';
import AdminScreen from './AdminScreen.svelte';

const f = strings.finger;

async function setup() {
  const journey = createJourney(createMockBackend({ fingerStepMs: 0 }));
  await journey.load();
  render(AdminScreen, { props: { journey } });
  return journey;
}

describe('Admin: fingerprint reader and finger enrollment', () => {
  it('shows the reader, its health labelled VIRTUAL, and who has a finger', async () => {
    await setup();
    const panel = screen.getByTestId('readers');
    expect(within(panel).getByRole('heading', { name: f.readerTitle })).toBeInTheDocument();
    expect(await within(panel).findByTestId('reader-health')).toHaveTextContent(
      `${strings.admin.available} — ${f.virtualBadge}`,
    );
    expect(within(panel).getByTestId('finger-enrolled')).toHaveTextContent('otto');
  });

  it('enrolls a finger witnessed by a supervisor with two factors', async () => {
    await setup();
    const form = screen.getByTestId('finger-enroll-form');
    const q = within(form);
    await fireEvent.change(q.getByRole('combobox', { name: strings.admin.enrollPerson }), {
      target: { value: 'olga' },
    });
    await fireEvent.change(q.getByRole('combobox', { name: f.whichFinger }), { target: { value: 'left-thumb' } });
    await fireEvent.change(q.getByRole('combobox', { name: strings.admin.witness }), { target: { value: 'sam' } });
    // A wrong code is refused and says so.
    await fireEvent.input(q.getByLabelText(strings.supervisor.password), { target: { value: 'sam-demo-pass' } });
    await fireEvent.input(q.getByLabelText(strings.supervisor.otp), { target: { value: '000000' } });
    await fireEvent.click(q.getByRole('button', { name: f.enroll }));
    expect(await q.findByRole('alert')).toHaveTextContent('auth.auth_failed');
    await fireEvent.click(q.getByRole('button', { name: strings.supervisor.fillDemo }));
    await q.findByDisplayValue('111111');
    await fireEvent.click(q.getByRole('button', { name: f.enroll }));
    expect(await q.findByTestId('finger-enrolled-result')).toHaveTextContent(
      `${f.enrolled('olga', 'left thumb', 5, 'sam')} — ${f.virtualBadge}`,
    );
    await fireEvent.click(within(screen.getByTestId('readers')).getByRole('button', { name: strings.admin.refresh }));
    expect(await screen.findByText('olga, otto')).toBeInTheDocument();
  });
});

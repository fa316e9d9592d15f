import { fireEvent, render, screen, within } from '@testing-library/svelte';
import { describe, expect, it } from 'vitest';
import { strings } from '../i18n/strings';
import { createMockBackend, type DemoBackend } from '../services/backend';
import { BackendError } from '../services/errors';
import { createJourney } from '../state/journey.svelte';
import AdminScreen from './AdminScreen.svelte';

const f = strings.finger;

async function setup(script: Partial<DemoBackend> = {}) {
  const journey = createJourney(createMockBackend({ script }));
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
    // The engine's answers: a wrong code refused, then the enrollment (the
    // witness's factors are checked by the engine: src-tauri/tests/finger.rs).
    const enrolled = ['otto'];
    const base = createMockBackend();
    await setup({
      async enrollFinger(r) {
        if (r.otp !== '111111') throw new BackendError({ code: 'auth.auth_failed', message: 'authentication failed' });
        enrolled.unshift(r.person);
        return base.enrollFinger(r);
      },
      fingerStatus: async () => ({ ...(await base.fingerStatus()), enrolled: [...enrolled] }),
    });
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

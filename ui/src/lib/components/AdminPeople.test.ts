import { fireEvent, render, screen, within } from '@testing-library/svelte';
import { describe, expect, it, vi } from 'vitest';
import { strings } from '../i18n/strings';
import { createMockBackend, type Backend } from '../services/backend';
import { MOCK_TOTP_SECRET } from '../services/mock-admin';
import { ConsoleAuth } from '../state/console.svelte';
import { createJourney } from '../state/journey.svelte';
import AdminScreen from './AdminScreen.svelte';

const a = strings.admin;

async function setup(backend: Backend = createMockBackend()) {
  const journey = createJourney(backend);
  await journey.load();
  const auth = new ConsoleAuth(backend);
  auth.session = { person: 'ada', displayName: 'Ada Admin', role: 'admin', signedInMs: 0, idleMinutes: 15 };
  render(AdminScreen, { props: { journey, auth } });
  return { journey, auth, backend };
}

function factors(scope: HTMLElement, secret = 'pw', otp = '123456') {
  return fireEvent.input(within(scope).getByLabelText(strings.supervisor.password), { target: { value: secret } }).then(
    () => fireEvent.input(within(scope).getByLabelText(strings.supervisor.otp), { target: { value: otp } }),
  );
}

describe('Admin: people', () => {
  it('adds a person with the admin\'s two factors, which are cleared afterwards', async () => {
    const { backend } = await setup();
    const add = vi.spyOn(backend, 'addPerson');
    const form = screen.getByTestId('add-person');
    await fireEvent.input(within(form).getByLabelText(a.act.addId), { target: { value: 'mallory' } });
    await fireEvent.input(within(form).getByLabelText(a.act.addName), { target: { value: 'Mallory M' } });
    await fireEvent.click(within(form).getByLabelText(strings.nav.reviewer));
    await factors(form, 'ada-pass', '654321');
    await fireEvent.submit(form);
    expect(await within(form).findByRole('status')).toHaveTextContent(a.act.added('mallory'));
    expect(add).toHaveBeenCalledWith({
      auth: { secret: 'ada-pass', otp: '654321' },
      id: 'mallory',
      displayName: 'Mallory M',
      roles: ['operator', 'reviewer'],
    });
    expect(within(form).getByLabelText(strings.supervisor.password)).toHaveValue('');
    expect(within(form).getByLabelText(strings.supervisor.otp)).toHaveValue('');
  });

  it('shows an issued TOTP secret once, as text and QR code, and forgets it on Done', async () => {
    const { backend } = await setup();
    const issue = vi.spyOn(backend, 'issueCredentials');
    await fireEvent.click(screen.getByRole('button', { name: `${a.act.edit} rita` }));
    const edit = screen.getByTestId('person-edit');
    await factors(edit);
    await fireEvent.input(within(edit).getByLabelText(a.act.newPassword), { target: { value: 'new long pw' } });
    await fireEvent.click(within(edit).getByRole('button', { name: a.act.issue }));
    const shown = await within(edit).findByTestId('issued');
    expect(within(shown).getByTestId('totp-secret')).toHaveTextContent(MOCK_TOTP_SECRET);
    const img = within(shown).getByRole('img', { name: a.issued.qrAlt('rita') });
    expect(img.getAttribute('src')).toMatch(/^data:image\/svg\+xml;base64,/);
    expect(issue).toHaveBeenCalledWith({ auth: { secret: 'pw', otp: '123456' }, id: 'rita', password: 'new long pw' });
    await fireEvent.click(within(shown).getByRole('button', { name: a.issued.done }));
    expect(screen.queryByTestId('issued')).toBeNull();
    expect(document.body.textContent).not.toContain(MOCK_TOTP_SECRET);
    expect(within(edit).getByLabelText(a.act.newPassword)).toHaveValue('');
  });

  it('saves roles with the factors and shows a refusal with its code', async () => {
    const { backend } = await setup();
    vi.spyOn(backend, 'setRoles').mockRejectedValueOnce({ code: 'auth.totp_replayed', message: 'code already used' });
    await fireEvent.click(screen.getByRole('button', { name: `${a.act.edit} sam` }));
    const edit = screen.getByTestId('person-edit');
    await factors(edit);
    await fireEvent.click(within(edit).getByRole('button', { name: a.act.saveRoles }));
    expect(await within(edit).findByRole('alert')).toHaveTextContent('auth.totp_replayed');
    await factors(edit);
    await fireEvent.click(within(edit).getByRole('button', { name: a.act.saveRoles }));
    expect(await within(edit).findByRole('status')).toHaveTextContent(a.act.rolesSaved('sam'));
  });

  it('drops the session mirror when the Rust side says the session ended', async () => {
    const { backend, auth } = await setup();
    vi.spyOn(backend, 'addPerson').mockRejectedValueOnce({ code: 'console.expired', message: 'idle' });
    const form = screen.getByTestId('add-person');
    await fireEvent.input(within(form).getByLabelText(a.act.addId), { target: { value: 'x' } });
    await fireEvent.input(within(form).getByLabelText(a.act.addName), { target: { value: 'X' } });
    await factors(form);
    await fireEvent.submit(form);
    expect(await within(form).findByRole('alert')).toHaveTextContent('console.expired');
    expect(auth.session).toBeNull();
  });
});

describe('Admin: policy', () => {
  it('diffs a proposed policy against the one in force and applies it with the factors', async () => {
    const { backend } = await setup();
    const apply = vi.spyOn(backend, 'applyPolicy');
    const form = screen.getByTestId('policy-change');
    const area = within(form).getByLabelText(a.policy.proposed) as HTMLTextAreaElement;
    await vi.waitFor(() => expect(area.value).toContain('throttle_seconds = 30'));
    const next = area.value.replace('throttle_seconds = 30', 'throttle_seconds = 45');
    await fireEvent.input(area, { target: { value: next } });
    await fireEvent.click(within(form).getByRole('button', { name: a.policy.diff }));
    const diff = await within(form).findByTestId('policy-diff');
    expect(diff).toHaveTextContent('− throttle_seconds = 30');
    expect(diff).toHaveTextContent('+ throttle_seconds = 45');
    await factors(form);
    await fireEvent.submit(form);
    expect(await within(form).findByRole('status')).toHaveTextContent(a.policy.applied('b'.repeat(64)));
    expect(apply).toHaveBeenCalledWith({ auth: { secret: 'pw', otp: '123456' }, toml: next });
  });

  it('shows the engine\'s refusal of a proposal and offers no apply', async () => {
    const { backend } = await setup();
    vi.spyOn(backend, 'policyDiff').mockResolvedValueOnce({
      lines: [{ op: 'added', text: 'throttle_seconds = 1' }],
      changed: true,
      error: 'policy.invalid: attempts.throttle_seconds must be at least 30',
    });
    const form = screen.getByTestId('policy-change');
    await fireEvent.click(within(form).getByRole('button', { name: a.policy.diff }));
    expect(await within(form).findByRole('alert')).toHaveTextContent('policy.invalid');
    expect(within(form).getByRole('button', { name: a.policy.apply })).toBeDisabled();
  });
});

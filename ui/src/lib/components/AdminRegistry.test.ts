import { fireEvent, render, screen, within } from '@testing-library/svelte';
import { describe, expect, it, vi } from 'vitest';
import { strings } from '../i18n/strings';
import { createMockBackend } from '../services/backend';
import { ConsoleAuth } from '../state/console.svelte';
import { createJourney } from '../state/journey.svelte';
import AdminScreen from './AdminScreen.svelte';

const r = strings.admin.registry;

async function setup() {
  const backend = createMockBackend();
  const journey = createJourney(backend);
  await journey.load();
  const auth = new ConsoleAuth(backend);
  auth.session = { person: 'ada', displayName: 'Ada Admin', role: 'admin', signedInMs: 0, idleMinutes: 15 };
  render(AdminScreen, { props: { journey, auth } });
  return backend;
}

async function fill(scope: HTMLElement, label: string, value: string) {
  await fireEvent.input(within(scope).getByLabelText(label), { target: { value } });
}

describe('Admin: clients and principals', () => {
  it('registers a client with a secret and the factors, and shows the kiosk pin', async () => {
    const backend = await setup();
    const add = vi.spyOn(backend, 'addClient');
    const form = screen.getByTestId('clients');
    expect(within(form).getByText(r.noClients)).toBeInTheDocument();
    await fill(form, r.clientId, 'payroll');
    await fill(form, r.clientName, 'Payroll');
    await fireEvent.click(within(form).getByLabelText('payments.approve'));
    await fill(form, r.clientSecret, 'a long shared secret');
    await fill(form, strings.supervisor.password, 'pw');
    await fill(form, strings.supervisor.otp, '123456');
    await fireEvent.submit(form);
    expect(await within(form).findByTestId('kiosk-pin')).toHaveTextContent('tls_cert_sha256');
    expect(add).toHaveBeenCalledWith({
      auth: { secret: 'pw', otp: '123456' },
      id: 'payroll',
      name: 'Payroll',
      scopes: ['payments.approve'],
      secret: 'a long shared secret',
      publicKey: null,
    });
    expect(within(form).getByLabelText(r.clientSecret)).toHaveValue('');
    expect(await within(form).findByText('payroll')).toBeInTheDocument();
  });

  it('registers a principal and shows a refusal with its code', async () => {
    const backend = await setup();
    vi.spyOn(backend, 'addPrincipal').mockRejectedValueOnce({ code: 'input.invalid', message: 'unknown owner' });
    const form = screen.getByTestId('principals');
    await fill(form, r.principalId, 'nightly-batch');
    await fill(form, r.owner, 'sam');
    await fireEvent.click(within(form).getByLabelText('payments.approve'));
    await fill(form, r.clients, 'payroll, billing');
    await fill(form, strings.supervisor.password, 'pw');
    await fill(form, strings.supervisor.otp, '123456');
    await fireEvent.submit(form);
    expect(await within(form).findByRole('alert')).toHaveTextContent('input.invalid');
    const add = vi.spyOn(backend, 'addPrincipal');
    await fill(form, strings.supervisor.password, 'pw');
    await fill(form, strings.supervisor.otp, '234567');
    await fireEvent.submit(form);
    expect(await within(form).findByRole('status')).toHaveTextContent(r.principalAdded('nightly-batch'));
    expect(add).toHaveBeenLastCalledWith(
      expect.objectContaining({ kind: 'service_account', owner: 'sam', clients: ['payroll', 'billing'] }),
    );
  });
});

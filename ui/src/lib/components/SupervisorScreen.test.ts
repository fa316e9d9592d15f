import { fireEvent, render, screen, within } from '@testing-library/svelte';
import { describe, expect, it } from 'vitest';
import { strings } from '../i18n/strings';
import { createMockBackend, type DemoBackend } from '../services/backend';
import { BackendError } from '../services/errors';
import { attempt, stepupView } from '../services/fixture';
import { Ticker } from '../state/clock.svelte';
import { createJourney } from '../state/journey.svelte';
import SupervisorScreen from './SupervisorScreen.svelte';

const s = strings.supervisor;

/** The engine's answer to the attempt: the camera is gone, the fallback offered. */
const cameraGone: Partial<DemoBackend> = {
  async verifyMe() {
    return stepupView({
      scope: ['admin.keys', 'payments.approve'],
      state: 'fallback_offered',
      trigger: 'device_unavailable',
      attempts: [attempt({ outcome: 'unavailable', score: null, threshold: null, detail: 'capture.not_found' })],
    });
  },
  // sam with the fixture's code; anything else as the engine refuses it.
  async supervisorLogin(login) {
    if (login.otp !== '111111') throw new BackendError({ code: 'auth.auth_failed', message: 'authentication failed' });
    return stepupView({
      scope: ['admin.keys', 'payments.approve'],
      state: 'supervisor_authenticated',
      trigger: 'device_unavailable',
      supervisor: login.supervisor,
    });
  },
};

async function atFallback(script: Partial<DemoBackend> = {}) {
  let t = 1_800_000_000_000;
  const now = () => t;
  const journey = createJourney(createMockBackend({ now, scene: 'unplugged', script: { ...cameraGone, ...script } }));
  await journey.load();
  await journey.start(['payments.approve', 'admin.keys'], 'ledger-app');
  await journey.identify('olga');
  await journey.verify();
  const clock = new Ticker(now);
  render(SupervisorScreen, { props: { journey, clock } });
  return {
    journey,
    advance: (ms: number) => {
      t += ms;
      clock.tick();
    },
  };
}

async function signIn(otp = '111111') {
  await fireEvent.change(screen.getByLabelText(s.who), { target: { value: 'sam' } });
  await fireEvent.input(screen.getByLabelText(s.password), { target: { value: 'sam-demo-pass' } });
  await fireEvent.input(screen.getByLabelText(s.otp), { target: { value: otp } });
  await fireEvent.submit(screen.getByTestId('auth-form'));
}

describe('SupervisorScreen', () => {
  it('says when nothing waits for a supervisor', async () => {
    const journey = createJourney(createMockBackend());
    await journey.load();
    render(SupervisorScreen, { props: { journey, clock: new Ticker() } });
    expect(screen.getByText(s.none)).toBeInTheDocument();
  });

  it('shows the operator, the trigger and the attempts before any factor', async () => {
    await atFallback();
    const ctx = screen.getByTestId('context');
    expect(ctx).toHaveTextContent('Olga Operator');
    expect(ctx).toHaveTextContent(strings.triggers.device_unavailable);
    expect(within(ctx).getByRole('table')).toHaveTextContent(strings.outcomes.unavailable);
    expect(screen.getByTestId('auth-form')).toBeInTheDocument();
  });

  it('a wrong factor is refused without saying which', async () => {
    await atFallback();
    await signIn('000000');
    expect(await screen.findByRole('alert')).toHaveTextContent('authentication failed');
    expect(screen.getByTestId('auth-form')).toBeInTheDocument();
  });

  it('grants within the policy, shows a countdown, and revokes', async () => {
    const h = await atFallback();
    await signIn();
    const form = await screen.findByTestId('grant-form');
    const duration = within(form).getByLabelText(s.duration) as HTMLInputElement;
    expect(duration.value).toBe('15');
    expect(duration.max).toBe('60');
    expect(form).toHaveTextContent(s.durationHint(15, 60));
    // A scope the policy keeps from supervisors cannot be ticked.
    const keys = within(form).getByRole('checkbox', { name: /admin\.keys/ });
    expect(keys).toBeDisabled();
    expect(keys).not.toBeChecked();
    await fireEvent.input(duration, { target: { value: '10' } });
    await fireEvent.change(within(form).getByLabelText(s.reason), { target: { value: 'SENSOR_FAULT' } });
    await fireEvent.input(within(form).getByLabelText(s.note), { target: { value: 'camera unplugged' } });
    await fireEvent.input(within(form).getByLabelText(s.control), { target: { value: 'second approver' } });
    await fireEvent.submit(form);
    const grant = await screen.findByTestId('grant');
    expect(grant).toHaveTextContent(s.statusNames.active);
    expect(screen.getByTestId('countdown')).toHaveTextContent('10:00');
    h.advance(61_000);
    expect(await screen.findByText('08:59')).toBeInTheDocument();

    await fireEvent.input(within(grant).getByLabelText(s.revokeReason), { target: { value: 'operator back' } });
    await fireEvent.input(within(grant).getByLabelText(s.password), { target: { value: 'sam-demo-pass' } });
    await fireEvent.input(within(grant).getByLabelText(s.otp), { target: { value: '111111' } });
    await fireEvent.submit(within(grant).getByRole('button', { name: s.revoke }).closest('form')!);
    expect(await screen.findByText(s.statusNames.revoked)).toBeInTheDocument();
  });

  it('revokes after the screen was left and re-opened (the granting supervisor by default)', async () => {
    const h = await atFallback();
    await h.journey.login({ supervisor: 'sam', secret: 'sam-demo-pass', otp: '111111' });
    await h.journey.grantOverride({
      scope: ['payments.approve'],
      durationMinutes: 10,
      reasonCode: 'SENSOR_FAULT',
      note: 'n',
      ticket: null,
      compensatingControl: 'c',
    });
    // atFallback rendered the screen after the grant: nobody signed in on it.
    const grant = await screen.findByTestId('grant');
    expect(within(grant).getByLabelText(s.who)).toHaveValue('sam');
    await fireEvent.input(within(grant).getByLabelText(s.revokeReason), { target: { value: 'operator back' } });
    await fireEvent.input(within(grant).getByLabelText(s.password), { target: { value: 'sam-demo-pass' } });
    await fireEvent.input(within(grant).getByLabelText(s.otp), { target: { value: '111111' } });
    await fireEvent.submit(within(grant).getByRole('button', { name: s.revoke }).closest('form')!);
    expect(await screen.findByText(s.statusNames.revoked)).toBeInTheDocument();
  });

  it('shows the code when the engine refuses a grant (here over the cap)', async () => {
    const h = await atFallback({
      async grantOverride(): Promise<never> {
        throw new BackendError({ code: 'refused.over_cap', message: '61 min is over the policy cap of 60 min' });
      },
    });
    await h.journey.login({ supervisor: 'sam', secret: 'sam-demo-pass', otp: '111111' });
    await h.journey.grantOverride({
      scope: ['payments.approve'],
      durationMinutes: 61,
      reasonCode: 'SENSOR_FAULT',
      note: 'n',
      ticket: null,
      compensatingControl: 'c',
    });
    expect(await screen.findByRole('alert')).toHaveTextContent('refused.over_cap');
  });
});

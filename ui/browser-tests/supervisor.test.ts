import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { audit, demoFactors, goTo, harness, reachFallback } from './harness';

const h = harness();
beforeAll(h.start);
afterAll(h.stop);

const SAM = 'Sam Supervisor (sam)';

/** Signs sam in with the demo's published factors (the current real code unless `otp`). */
async function signIn(page: Page, otp?: string) {
  const sam = await demoFactors(page, 'sam');
  const form = page.getByTestId('auth-form');
  await form.getByLabel('Supervisor').selectOption({ label: SAM });
  await form.getByLabel('Password').fill(sam.secret);
  await form.getByLabel('Authenticator code').fill(otp ?? sam.otp);
  await form.getByRole('button', { name: 'Sign in' }).click();
}

async function fillGrant(page: Page, minutes: number) {
  const form = page.getByTestId('grant-form');
  await form.getByLabel('Duration (minutes)').fill(String(minutes));
  await form.getByLabel('Reason code').selectOption('ENVIRONMENT');
  await form.getByLabel('What happened (note)').fill('Low light at the counter');
  await form.getByLabel('Ticket (optional)').fill('INC-7');
  await form.getByLabel('Compensating control while the override lasts').fill('Payments held for call-back');
  return form;
}

/** From a fresh page to a signed-in supervisor in front of the grant form. */
async function toGrantForm(page: Page) {
  await reachFallback(page);
  await page.getByRole('button', { name: 'Ask a supervisor' }).click();
  await page.getByRole('heading', { level: 2, name: 'Supervisor override' }).waitFor();
  await signIn(page);
  await page.getByTestId('grant-form').waitFor();
}

describe('supervisor screen', () => {
  it('has nothing to do until a fallback is offered', async () => {
    const { page, errors } = await h.open();
    await goTo(page, 'Supervisor', 'Supervisor override');
    expect(await page.getByText('No step-up is waiting for a supervisor').isVisible()).toBe(true);
    expect(await audit(page)).toEqual([]);
    expect(errors).toEqual([]);
  });

  it('shows the context, refuses one bad factor, grants within the cap, counts down, revokes', async () => {
    const { page, errors } = await h.open('', { clock: true });
    await reachFallback(page);
    await page.getByRole('button', { name: 'Ask a supervisor' }).click();
    await page.getByRole('heading', { level: 2, name: 'Supervisor override' }).waitFor();

    const context = page.getByTestId('context');
    expect(await context.textContent()).toContain('Olga Operator (olga)');
    expect(await context.textContent()).toContain('ledger-app');
    expect(await context.textContent()).toContain('Too many failed matches in a row');
    // The five attempts, each with its score against the threshold.
    const attempts = context.getByRole('table').getByRole('row');
    expect(await attempts.count()).toBe(6);
    expect(await attempts.nth(5).textContent()).toMatch(/No match.*0\.\d{3}.*0\.480/);
    expect(await audit(page)).toEqual([]);

    // A wrong code: refused, with the stable code shown; the form stays.
    await signIn(page, '000000');
    await page.getByRole('alert').filter({ hasText: 'auth.auth_failed' }).waitFor();
    await signIn(page);
    await page.getByText('Signed in as sam').waitFor();
    // The attempts' captured frames, for the supervisor to judge (each look is logged).
    await context.getByRole('button', { name: 'Show sample (attempt 1)' }).click();
    const frame = context.getByTestId('sample-image');
    await frame.waitFor();
    expect(await frame.getAttribute('alt')).toBe('Captured sample of olga');
    expect(await context.getByRole('button', { name: 'Hide sample' }).getAttribute('aria-expanded')).toBe('true');

    const form = page.getByTestId('grant-form');
    const duration = form.getByLabel('Duration (minutes)');
    expect(await duration.inputValue()).toBe('15'); // the policy default
    expect(await form.getByText('Default 15 min, policy cap 60 min').isVisible()).toBe(true);
    expect(await form.getByRole('checkbox', { name: 'payments.approve' }).isChecked()).toBe(true);
    expect(await audit(page)).toEqual([]);

    // Over the cap: the form does not submit.
    await fillGrant(page, 90);
    await form.getByRole('button', { name: 'Grant override' }).click();
    expect(await duration.evaluate((el: HTMLInputElement) => el.validity.rangeOverflow)).toBe(true);
    expect(await page.getByTestId('grant').count()).toBe(0);

    await fillGrant(page, 20);
    await form.getByRole('button', { name: 'Grant override' }).click();
    const grant = page.getByTestId('grant');
    await grant.waitFor();
    expect(await grant.getByText('Status: Active').isVisible()).toBe(true);
    // The fake clock runs in real time: a loaded machine may show a second less.
    await expect.poll(() => page.getByTestId('countdown').textContent()).toMatch(/^(20:00|19:\d\d)$/);
    await h.advance(page, '05:00');
    await expect.poll(() => page.getByTestId('countdown').textContent()).toMatch(/^1[345]:\d\d$/);
    expect(await audit(page)).toEqual([]);

    // The operator's screen says until when.
    await goTo(page, 'Operator', 'Step-up');
    expect(await page.getByRole('status').filter({ hasText: 'Override granted until' }).isVisible()).toBe(true);
    await goTo(page, 'Supervisor', 'Supervisor override');

    await grant.getByLabel('Why revoke').fill('Operator left the desk');
    const sam = await demoFactors(page, 'sam');
    await grant.getByLabel('Password').fill(sam.secret);
    await grant.getByLabel('Authenticator code').fill(sam.otp);
    await grant.getByRole('button', { name: 'Revoke override' }).click();
    await expect.poll(() => grant.getByText('Status: Revoked').isVisible()).toBe(true);
    expect(await page.getByTestId('countdown').count()).toBe(0);
    expect(errors).toEqual([]);
  });

  it('shows the grant as expired once its time is up (by the clock)', async () => {
    const { page, errors } = await h.open('', { clock: true });
    await toGrantForm(page);
    const form = await fillGrant(page, 1);
    await form.getByRole('button', { name: 'Grant override' }).click();
    await expect.poll(() => page.getByTestId('countdown').textContent()).toMatch(/^(01:00|00:[1-5]\d)$/);
    await h.advance(page, '01:01');
    await expect.poll(() => page.getByTestId('grant').getByText('Status: Expired').isVisible()).toBe(true);
    expect(await page.getByText('Ended').isVisible()).toBe(true);
    expect(errors).toEqual([]);
  });

  it('grants only a subset of the request: no scope, no grant', async () => {
    const { page, errors } = await h.open();
    await toGrantForm(page);
    const form = await fillGrant(page, 10);
    await form.getByRole('checkbox', { name: 'payments.approve' }).uncheck();
    expect(await form.getByRole('button', { name: 'Grant override' }).isDisabled()).toBe(true);
    expect(errors).toEqual([]);
  });
});

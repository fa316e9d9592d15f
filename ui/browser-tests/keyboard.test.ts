import type { Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { demoFactors, harness, reachFallback, seedGrant, signInToConsole } from './harness';

const h = harness();
beforeAll(h.start);
afterAll(h.stop);

/** Presses Tab (or Shift+Tab) until `target` has the focus (at most `max` times). */
async function tabTo(page: Page, target: Locator, max = 80, key = 'Tab'): Promise<void> {
  // The real service answers at its own pace: Tab skips a control that is
  // not there yet or still disabled, so wait for it first.
  await target.waitFor();
  await expect.poll(() => target.isEnabled()).toBe(true);
  for (let i = 0; i < max; i++) {
    await page.keyboard.press(key);
    if (await target.evaluate((el) => el === document.activeElement).catch(() => false)) {
      // The focus is visible: a thick outline (app.css :focus-visible).
      const outline = await target.evaluate((el) => getComputedStyle(el).outlineWidth);
      expect(parseFloat(outline)).toBeGreaterThanOrEqual(3);
      return;
    }
  }
  throw new Error(`Tab never reached ${target.toString()}`);
}

const nav = (page: Page, name: string) =>
  page.getByRole('navigation', { name: 'Screens' }).getByRole('button', { name });

describe('keyboard operation', () => {
  it('reaches every screen with Tab and Enter', async () => {
    const { page, errors } = await h.open();
    await nav(page, 'Operator').waitFor();
    for (const [tab, heading] of [
      ['Reviewer', 'Reviewer sign-in'],
      ['Admin', 'Admin sign-in'],
      ['Supervisor', 'Supervisor override'],
      ['Operator', 'Step-up'],
    ] as const) {
      await tabTo(page, nav(page, tab));
      await page.keyboard.press('Enter');
      await page.getByRole('heading', { level: 2, name: heading }).waitFor();
      expect(await nav(page, tab).getAttribute('aria-current')).toBe('page');
    }
    expect(errors).toEqual([]);
  });

  it('runs a step-up from the keyboard: start, identify, Verify me', async () => {
    const { page, errors } = await h.open();
    await page.getByRole('heading', { level: 2, name: 'Step-up' }).waitFor();
    await tabTo(page, page.getByRole('button', { name: 'Start step-up' }));
    await page.keyboard.press('Enter');
    await tabTo(page, page.getByRole('button', { name: 'Olga Operator' }));
    await page.keyboard.press('Enter');
    const verify = page.getByRole('button', { name: 'Verify me' });
    await verify.waitFor();
    await tabTo(page, verify);
    await page.keyboard.press('Enter');
    await page.getByRole('status').filter({ hasText: 'Verified. You may continue.' }).waitFor();
    await tabTo(page, page.getByRole('button', { name: 'New request' }));
    await page.keyboard.press('Enter');
    await page.getByRole('button', { name: 'Start step-up' }).waitFor();
    expect(errors).toEqual([]);
  });

  it('signs a supervisor in and grants an override from the keyboard', async () => {
    const { page, errors } = await h.open();
    await reachFallback(page);
    await tabTo(page, page.getByRole('button', { name: 'Ask a supervisor' }));
    await page.keyboard.press('Enter');
    const auth = page.getByTestId('auth-form');
    await auth.waitFor();
    await tabTo(page, auth.getByLabel('Supervisor'));
    await page.keyboard.type('Sam');
    await page.keyboard.press('Tab');
    const sam = await demoFactors(page, 'sam');
    await page.keyboard.type(sam.secret);
    await page.keyboard.press('Tab');
    await page.keyboard.type(sam.otp);
    await page.keyboard.press('Enter'); // submits the form
    const grant = page.getByTestId('grant-form');
    await grant.waitFor();
    await tabTo(page, grant.getByLabel('Reason code'));
    await page.keyboard.type('SENSOR');
    await page.keyboard.press('Tab');
    await page.keyboard.type('Camera fogged');
    await tabTo(page, grant.getByLabel('Compensating control while the override lasts'));
    await page.keyboard.type('Second person watches');
    await page.keyboard.press('Enter');
    await page.getByTestId('grant').getByText('Status: Active').waitFor();
    expect(errors).toEqual([]);
  });

  it('reviews a case and opens an evidence row from the keyboard', async () => {
    const { page, errors } = await h.open('', { clock: true });
    // A grant that has run out, through the real service: ready for review.
    await seedGrant(h, { minutes: 1 });
    await h.advance(page, '02:00');
    await tabTo(page, nav(page, 'Reviewer'));
    await page.keyboard.press('Enter');
    await signInToConsole(page, 'Reviewer');
    const firstCase = page.getByTestId('cases').getByRole('button').first();
    await firstCase.waitFor();
    await tabTo(page, firstCase);
    await page.keyboard.press('Enter');
    await page.getByTestId('case-detail').waitFor();
    // A radio group is one Tab stop (the checked radio); arrows move within it.
    await tabTo(page, page.getByRole('radio', { name: 'Justified', exact: true }));
    await page.keyboard.press('ArrowDown');
    expect(await page.getByRole('radio', { name: 'Unjustified' }).isChecked()).toBe(true);
    await page.keyboard.press('Tab');
    await page.keyboard.type('No fault found on the camera');
    await tabTo(page, page.getByTestId('case-detail').getByRole('button', { name: 'Fill demo credentials' }));
    await page.keyboard.press('Enter');
    await expect.poll(() => page.getByTestId('case-detail').getByLabel('Password').inputValue()).not.toBe('');
    await tabTo(page, page.getByRole('button', { name: 'Record review' }), 5, 'Shift+Tab');
    await page.keyboard.press('Enter');
    await page.getByRole('status').filter({ hasText: 'Reviewed by rita: Unjustified' }).waitFor();
    // The reviewer's views are a tab list: the arrow keys move between them.
    const queueTab = page.getByRole('tab', { name: /^Review queue/ });
    await tabTo(page, queueTab, 60, 'Shift+Tab');
    await page.keyboard.press('ArrowRight');
    expect(await page.getByRole('tab', { name: 'Evidence log' }).getAttribute('aria-selected')).toBe('true');
    const row = page.getByTestId('log-viewport').getByRole('row').first();
    await tabTo(page, row, 40);
    await page.keyboard.press('Enter');
    await page.getByTestId('event-detail').waitFor();
    await page.keyboard.press('ArrowDown');
    expect(await page.getByTestId('log-viewport').getByRole('row').nth(1).getAttribute('aria-selected')).toBe('true');
    expect(errors).toEqual([]);
  });
});

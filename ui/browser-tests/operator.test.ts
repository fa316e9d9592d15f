import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { audit, chooseScene, harness } from './harness';

const h = harness();
beforeAll(h.start);
afterAll(h.stop);

/**
 * Makes the next attempts fail to match: the replay camera shows someone
 * else (the demo data dir's `impostor` scene, through the real matcher).
 */
async function nextAttemptsFail(page: Page) {
  await chooseScene(page, 'camera', 'impostor');
}

async function request(page: Page, operator = 'Olga Operator') {
  await page.getByRole('heading', { level: 2, name: 'Step-up' }).waitFor();
  await page.getByRole('button', { name: 'Start step-up' }).click();
  await page.getByRole('button', { name: operator }).click();
  await page.getByText(`Identified: ${operator}`).waitFor();
}

const verifyMe = (page: Page) => page.getByRole('button', { name: 'Verify me' });

describe('operator screen', () => {
  it('shows what asked and for which scope, identifies, verifies on "Verify me"', async () => {
    const { page, errors } = await h.open();
    await page.getByRole('heading', { level: 2, name: 'Step-up' }).waitFor();
    expect(await audit(page)).toEqual([]);

    // The demo request: requester and scopes.
    await page.getByLabel('Requesting application').fill('payroll-app');
    await page.getByRole('checkbox', { name: /Export customer records/ }).check();
    await page.getByRole('button', { name: 'Start step-up' }).click();
    const ask = page.getByTestId('ask');
    await ask.waitFor();
    expect(await ask.textContent()).toContain('payroll-app asks you to confirm who you are for:');
    expect(await ask.getByRole('listitem').allTextContents()).toEqual([
      'Approve an outgoing payment (payments.approve)',
      'Export customer records (records.export)',
    ]);

    // Identify: the operators, by name.
    const who = page.getByRole('group', { name: 'Who are you?' });
    expect(await who.getByRole('button').allTextContents()).toEqual(
      expect.arrayContaining(['Olga Operator', 'Otto Operator']),
    );
    expect(await audit(page)).toEqual([]);
    await who.getByRole('button', { name: 'Olga Operator' }).click();
    await page.getByText('Identified: Olga Operator').waitFor();

    // The live preview says it is a replay, on the picture and in words.
    await page.getByRole('img', { name: 'Live picture from the camera' }).waitFor();
    expect(await page.getByTestId('replay-label').textContent()).toBe('REPLAY — not a live camera');

    // Nothing is matched before the act of intent.
    expect(await page.getByTestId('counts').textContent()).toContain('Attempts in this step-up: 0');
    expect(await audit(page)).toEqual([]);
    await verifyMe(page).click();
    const result = page.getByRole('status').filter({ hasText: 'Verified. You may continue.' });
    await result.waitFor();
    expect(await result.textContent()).toMatch(/Match score \d\.\d{3}/);
    expect(await verifyMe(page).count()).toBe(0);
    expect(await audit(page)).toEqual([]);

    await page.getByRole('button', { name: 'New request' }).click();
    await page.getByRole('button', { name: 'Start step-up' }).waitFor();
    expect(errors).toEqual([]);
  });

  it('counts failures, offers the fallback with its reason at the limit, enforces the wait', async () => {
    const { page, errors } = await h.open('', { clock: true });
    await request(page);
    await nextAttemptsFail(page);
    for (let i = 1; i <= 4; i++) {
      await verifyMe(page).click();
      await expect.poll(() => page.getByTestId('counts').textContent()).toContain(`Failed matches in a row: ${i} of 5`);
      expect(await page.getByRole('status').filter({ hasText: 'Not recognised. Try again.' }).count()).toBe(1);
    }
    await verifyMe(page).click();
    const offer = page.getByRole('alert').filter({ hasText: 'Your face could not be verified' });
    await offer.waitFor();
    expect(await offer.textContent()).toContain('Too many failed matches in a row'); // why, in words
    expect(await offer.getByRole('button', { name: 'Ask a supervisor' }).isVisible()).toBe(true);

    // The enforced wait: shown, counted down, and the button held until it ends.
    const wait = page.getByRole('timer');
    await expect.poll(() => wait.textContent()).toMatch(/Wait (30|2\d) s before the next attempt/);
    expect(await verifyMe(page).isDisabled()).toBe(true);
    expect(await audit(page)).toEqual([]);
    // Before the wait is over the engine refuses the attempt, whatever the screen shows.
    await h.advance(page, '00:31');
    await expect.poll(() => verifyMe(page).isEnabled()).toBe(true);
    expect(await page.getByRole('timer').count()).toBe(0);
    // After it, the engine takes the next attempt (the sixth failure).
    await verifyMe(page).click();
    await expect.poll(() => page.getByTestId('counts').textContent()).toContain('Attempts in this step-up: 6');

    // The offer leads to the supervisor's screen.
    await offer.getByRole('button', { name: 'Ask a supervisor' }).click();
    await page.getByRole('heading', { level: 2, name: 'Supervisor override' }).waitFor();
    expect(errors).toEqual([]);
  });

  it('says why a capture failed the quality gates, and offers the fallback after repeated ones', async () => {
    const { page, errors } = await h.open();
    await request(page);
    await chooseScene(page, 'camera', 'no-face');
    // The preview's hint, in words, before any attempt.
    await expect.poll(() => page.getByTestId('hint').textContent()).toContain('No face found: look at the camera.');
    for (let i = 1; i <= 2; i++) {
      await verifyMe(page).click();
      await page.getByRole('status').filter({ hasText: 'The picture was not good enough. Try again.' }).waitFor();
    }
    // Quality failures are not failed matches.
    expect(await page.getByTestId('counts').textContent()).toContain('Failed matches in a row: 0 of 5');
    await verifyMe(page).click();
    const offer = page.getByRole('alert').filter({ hasText: 'Your face could not be verified' });
    await offer.waitFor();
    expect(await offer.textContent()).toContain('Repeated captures failed the quality checks');
    expect(await audit(page)).toEqual([]);
    expect(errors).toEqual([]);
  });

  it('refuses a still photo whatever its score (presentation-attack check)', async () => {
    const { page, errors } = await h.open();
    await request(page);
    await chooseScene(page, 'camera', 'still-photo');
    await verifyMe(page).click();
    await expect.poll(() => page.getByTestId('counts').textContent()).toContain('Failed matches in a row: 1 of 5');
    expect(await page.getByText('Verified. You may continue.').count()).toBe(0);
    expect(errors).toEqual([]);
  });

  it('cancels a step-up', async () => {
    const { page, errors } = await h.open();
    await request(page, 'Otto Operator');
    await page.getByRole('button', { name: 'Cancel' }).click();
    await page.getByRole('status').filter({ hasText: 'This step-up was cancelled.' }).waitFor();
    expect(await verifyMe(page).count()).toBe(0);
    expect(errors).toEqual([]);
  });

  it('with the camera unplugged, says so before the attempt and offers the fallback at once', async () => {
    const { page, errors } = await h.open('', { unplugged: true });
    await request(page);
    await expect.poll(() => page.getByTestId('hint').textContent()).toContain('Camera unavailable');
    expect(await audit(page)).toEqual([]);
    await verifyMe(page).click();
    const offer = page.getByRole('alert').filter({ hasText: 'could not be verified' });
    await offer.waitFor();
    expect(await offer.textContent()).toContain('The camera is unavailable');
    // No failed match is counted against the operator.
    expect(await page.getByTestId('counts').textContent()).toContain('Failed matches in a row: 0 of 5');
    expect(await audit(page)).toEqual([]);
    expect(errors).toEqual([]);
  });
});

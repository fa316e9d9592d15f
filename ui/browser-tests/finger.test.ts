import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { audit, goTo, harness, chooseScene } from './harness';

const h = harness();
beforeAll(h.start);
afterAll(h.stop);

async function request(page: Page, operator = 'Otto Operator') {
  await page.getByRole('heading', { level: 2, name: 'Step-up' }).waitFor();
  await page.getByRole('button', { name: 'Start step-up' }).click();
  await page.getByRole('button', { name: operator }).click();
  await page.getByText(`Identified: ${operator}`).waitFor();
}

const prompt = (page: Page) => page.getByTestId('finger-prompt');
const phase = (page: Page) => page.getByTestId('finger-phase');

describe('fingerprint prompt (otto is enrolled with a finger)', () => {
  it('place your finger, scanning, matched; the reader is labelled VIRTUAL', async () => {
    const { page, errors } = await h.open();
    await request(page);
    await prompt(page).waitFor();
    expect(await page.getByTestId('camera').count()).toBe(0);
    expect(await page.getByTestId('virtual-label').textContent()).toBe('VIRTUAL — not a live finger');
    expect(await page.getByRole('img', { name: 'Fingerprint reader' }).isVisible()).toBe(true);
    expect(await page.getByTestId('counts').textContent()).toContain('Attempts in this step-up: 0');
    expect(await audit(page)).toEqual([]);
    // Keyboard: the act of intent is a focusable button.
    await page.getByRole('button', { name: 'Verify me' }).focus();
    await page.keyboard.press('Enter');
    await expect.poll(() => phase(page).textContent()).toContain('Place your finger on the reader');
    expect(await audit(page)).toEqual([]);
    await expect.poll(() => phase(page).textContent()).toContain('Scanning — keep your finger still');
    await page.getByText('Verified. You may continue.').waitFor();
    expect(await audit(page)).toEqual([]);
    expect(errors).toEqual([]);
  });

  it('not matched, scan again with the reason, and a removed reader offers the fallback', async () => {
    const { page, errors } = await h.open();
    await request(page);
    await chooseScene(page, 'finger', 'someone-else');
    await page.getByRole('button', { name: 'Verify me' }).click();
    await expect.poll(() => phase(page).textContent(), { timeout: 30_000 }).toContain('Fingerprint not matched. Try again.');
    expect(await page.getByTestId('counts').textContent()).toContain('Failed matches in a row: 1 of 5');
    expect(await audit(page)).toEqual([]);

    await chooseScene(page, 'finger', 'poor-scan');
    await page.getByRole('button', { name: 'Verify me' }).click();
    await expect.poll(() => phase(page).textContent(), { timeout: 30_000 }).toContain('Scan again:');
    expect(await phase(page).textContent()).toContain('poor scan quality');
    expect(await page.getByTestId('counts').textContent()).toContain('Failed matches in a row: 1 of 5');

    await chooseScene(page, 'finger', 'reader-removed');
    await page.getByRole('button', { name: 'Verify me' }).click();
    const fallback = page.getByTestId('fallback');
    await fallback.waitFor({ timeout: 30_000 });
    expect(await fallback.textContent()).toContain('Your fingerprint could not be verified');
    expect(await fallback.textContent()).toContain('unavailable');
    expect(await audit(page)).toEqual([]);
    expect(errors).toEqual([]);
  });
});

describe('admin: fingerprint reader', () => {
  it('shows the reader health, VIRTUAL in words, and enrolls a finger with a witness', async () => {
    const { page, errors } = await h.open();
    await goTo(page, 'Admin', 'People and policy');
    const readers = page.getByTestId('readers');
    await expect.poll(() => readers.textContent()).toContain('Available — VIRTUAL');
    expect(await readers.textContent()).toContain('otto');
    const form = page.getByTestId('finger-enroll-form');
    await form.getByLabel('Operator').selectOption('olga');
    await form.getByLabel('Finger').selectOption('left-thumb');
    await form.getByLabel('Witness (supervisor)').selectOption('sam');
    await form.getByRole('button', { name: 'Fill demo credentials' }).click();
    await expect.poll(() => form.getByLabel('Password').inputValue()).toBe('sam-demo-pass');
    await form.getByRole('button', { name: 'Enroll from the reader' }).click();
    await expect
      .poll(() => form.getByTestId('finger-enrolled-result').textContent(), { timeout: 15_000 })
      .toContain('olga: left thumb enrolled from 5 impressions, witnessed by sam — VIRTUAL');
    expect(await audit(page)).toEqual([]);
    expect(errors).toEqual([]);
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { audit, goTo, harness } from './harness';

const h = harness();
beforeAll(h.start);
afterAll(h.stop);

describe('admin screen', () => {
  it('lists people with their roles and the policy in force', async () => {
    const { page, errors } = await h.open();
    await goTo(page, 'Admin', 'People and policy');
    const people = page.getByRole('table');
    await expect.poll(() => people.getByRole('row').count()).toBe(7); // header + 6 demo people
    const rita = people.getByRole('row', { name: /rita/ });
    expect(await rita.textContent()).toContain('Reviewer');
    expect(await page.getByText('Overrides: default 15 min, cap 60 min').isVisible()).toBe(true);
    expect(await page.getByRole('listitem').filter({ hasText: 'SENSOR_FAULT' }).isVisible()).toBe(true);
    expect(await audit(page)).toEqual([]);
    expect(errors).toEqual([]);
  });
});

describe('admin: capture device and enrollment', () => {
  it('shows the capture device and its health, replay said in words', async () => {
    const { page, errors } = await h.open();
    await goTo(page, 'Admin', 'People and policy');
    const device = page.getByRole('heading', { name: 'Capture device' }).locator('..');
    await expect.poll(() => device.textContent()).toContain('Available');
    expect(await device.textContent()).toContain('REPLAY');
    await device.getByRole('button', { name: 'Check again' }).click();
    await expect.poll(() => device.textContent()).toContain('Available');
    expect(await audit(page)).toEqual([]);
    expect(errors).toEqual([]);
  });

  it('enrolls an operator from the camera, witnessed with two factors', async () => {
    const { page, errors } = await h.open();
    await goTo(page, 'Admin', 'People and policy');
    const form = page.getByTestId('enroll-form');
    await form.getByLabel('Operator').selectOption('otto');
    await form.getByLabel('Witness (supervisor)').selectOption('sam');
    // A wrong code is refused, and said next to the form.
    await form.getByLabel('Password').fill('sam-demo-pass');
    await form.getByLabel('Authenticator code').fill('000000');
    await form.getByRole('button', { name: 'Enroll from the camera' }).click();
    await expect.poll(() => form.getByRole('alert').textContent()).toContain('auth.auth_failed');
    await form.getByRole('button', { name: 'Fill demo credentials' }).click();
    await expect.poll(() => form.getByLabel('Password').inputValue()).toBe('sam-demo-pass');
    await form.getByRole('button', { name: 'Enroll from the camera' }).click();
    await expect.poll(() => form.getByRole('status').textContent()).toMatch(/otto enrolled from \d+ captures, witnessed by sam/);
    expect(await audit(page)).toEqual([]);
    expect(errors).toEqual([]);
  });
});

describe('start screen', () => {
  it('says what is missing when the data dir is not initialised', async () => {
    const { page, errors } = await h.open('', { uninitialised: true });
    await page.getByRole('heading', { level: 1, name: 'Countersign' }).waitFor();
    expect(await page.getByTestId('data-dir').textContent()).toContain('Not initialised');
    expect(await page.getByRole('navigation').count()).toBe(0);
    expect(await audit(page)).toEqual([]);
    expect(errors).toEqual([]);
  });
});

describe('the audit itself', () => {
  it('reports what it is meant to catch', async () => {
    const { page } = await h.open();
    await goTo(page, 'Admin', 'People and policy');
    await page.evaluate(() => {
      const bad = document.createElement('div');
      bad.innerHTML =
        '<input type="text"><button style="width:20px;height:20px;min-height:0;min-width:0;padding:0"></button>' +
        '<p style="color:#222;background:#1e293b">low contrast</p>';
      document.querySelector('main')?.append(bad);
    });
    const found = (await audit(page)).join('\n');
    expect(found).toMatch(/label/);
    expect(found).toMatch(/button-name/);
    expect(found).toMatch(/color-contrast/);
    expect(found).toMatch(/target under 44 px: button/);
  });
});

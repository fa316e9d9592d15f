// The admin's acts in the console (issue 15, item 4) on the mock backend:
// the forms, the secret shown once, the policy diff, axe clean. The rules
// are tested through the real service (src-tauri/tests/admin.rs).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { audit, goTo, harness } from './harness';

const h = harness();
beforeAll(h.start);
afterAll(h.stop);

describe('admin: acts signed with the admin\'s two factors', () => {
  it('issues credentials: the secret shown once as text and QR code, then gone', async () => {
    const { page, errors } = await h.open();
    await goTo(page, 'Admin', 'People and policy');
    await page.getByRole('button', { name: 'Manage rita' }).click();
    const edit = page.getByTestId('person-edit');
    await edit.getByRole('button', { name: 'Fill demo factors' }).click();
    await expect.poll(() => edit.getByLabel('Authenticator code').inputValue()).not.toBe('');
    await edit.getByLabel('New password for this person').fill('a new long password');
    await edit.getByRole('button', { name: 'Issue password and authenticator' }).click();
    const shown = edit.getByTestId('issued');
    await shown.waitFor();
    expect(await shown.getByRole('img', { name: /QR code/ }).isVisible()).toBe(true);
    expect(await shown.getByTestId('totp-secret').textContent()).toMatch(/^[A-Z2-7]{16,}$/);
    expect(await audit(page)).toEqual([]);
    await shown.getByRole('button', { name: 'Done: hide the secret' }).click();
    await expect.poll(() => shown.count()).toBe(0);
    expect(errors).toEqual([]);
  });

  it('shows a policy diff and applies it', async () => {
    const { page, errors } = await h.open();
    await goTo(page, 'Admin', 'People and policy');
    const form = page.getByTestId('policy-change');
    const area = form.getByLabel('Proposed policy (TOML)');
    await expect.poll(() => area.inputValue()).toContain('throttle_seconds = 30');
    await area.fill((await area.inputValue()).replace('throttle_seconds = 30', 'throttle_seconds = 45'));
    await form.getByRole('button', { name: 'Show the differences' }).click();
    const diff = form.getByTestId('policy-diff');
    await expect.poll(() => diff.textContent()).toContain('+ throttle_seconds = 45');
    await form.getByRole('button', { name: 'Fill demo factors' }).click();
    await expect.poll(() => form.getByLabel('Authenticator code').inputValue()).not.toBe('');
    expect(await audit(page)).toEqual([]);
    await form.getByRole('button', { name: 'Apply the policy' }).click();
    await expect.poll(() => form.getByRole('status').textContent()).toContain('in force');
    expect(errors).toEqual([]);
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { audit, goTo, harness, reviewerView } from './harness';

const h = harness();
beforeAll(h.start);
afterAll(h.stop);

/** The Admin screen's sync panel with the mock backend (services/mock-fleet.ts). */
describe('admin: evidence sync status', () => {
  it('shows the queue and the last upload within the limit', async () => {
    const { page, errors } = await h.open('', { fixture: true });
    await goTo(page, 'Admin', 'People and policy');
    const panel = page.getByTestId('sync-status');
    await expect.poll(() => panel.getByTestId('sync-summary').textContent()).toContain('Uploading: 4 objects queued');
    const text = (await panel.textContent()) ?? '';
    for (const fact of ['countersign-evidence at https://s3.example.internal', 'Running', '3 events, 1 sealed samples, 0 checkpoints', '1 h 0 min']) {
      expect(text).toContain(fact);
    }
    await panel.getByRole('button', { name: 'Check again' }).click();
    expect(await audit(page)).toEqual([]);
    expect(errors).toEqual([]);
  });

  it('says the alert in words past the policy limit', async () => {
    const { page, errors } = await h.open('mockSync=alert', { fixture: true });
    await goTo(page, 'Admin', 'People and policy');
    const alert = page.getByTestId('sync-status').getByRole('alert');
    await expect.poll(() => alert.textContent()).toMatch(/ALERT: the oldest evidence not uploaded is 2 h \d+ min old, past the policy's limit of 1 h 0 min/);
    expect(await page.getByTestId('sync-status').textContent()).toContain('connection refused');
    expect(await audit(page)).toEqual([]);
    expect(errors).toEqual([]);
  });

  it('says when the kiosk is not configured', async () => {
    const { page, errors } = await h.open('mockSync=unconfigured', { fixture: true });
    await goTo(page, 'Admin', 'People and policy');
    const panel = page.getByTestId('sync-status');
    await expect.poll(() => panel.getByTestId('sync-summary').textContent()).toContain('Not configured: no sync.toml');
    expect(await panel.textContent()).toContain('Not running (no sync.toml)');
    expect(await audit(page)).toEqual([]);
    expect(errors).toEqual([]);
  });
});

describe('reviewer: fleet view', () => {
  it('reads the bucket, lists kiosks verified, browses and exports across kiosks by keyboard', async () => {
    const { page, errors } = await h.open('', { fixture: true });
    await goTo(page, 'Reviewer', 'Review');
    await reviewerView(page, 'Fleet');
    const fleet = page.getByTestId('fleet');
    const open = fleet.getByRole('button', { name: 'Read and verify the bucket' });
    await open.focus();
    await page.keyboard.press('Enter');
    await expect.poll(() => fleet.getByTestId('fleet-verdict').textContent()).toContain('Every kiosk verified');
    const kiosks = fleet.getByTestId('fleet-kiosks').getByRole('row');
    await expect.poll(() => kiosks.count()).toBe(3);
    expect(await kiosks.nth(1).textContent()).toContain('Verified');
    const log = fleet.getByTestId('fleet-log');
    await expect.poll(() => log.textContent()).toContain('200 events loaded');
    expect(await fleet.getByTestId('fleet-viewport').getByRole('listitem').count()).toBeLessThanOrEqual(25);
    // Scrolling to the end loads the next page.
    await fleet.getByTestId('fleet-viewport').evaluate((el) => (el.scrollTop = el.scrollHeight));
    await expect.poll(() => log.textContent()).toContain('600 events loaded · End of log');
    expect(await audit(page)).toEqual([]);

    await log.getByRole('combobox', { name: /^Kiosk/ }).selectOption('kiosk-lobby');
    await log.getByLabel('Event kind').selectOption('override.granted');
    await log.getByRole('button', { name: 'Apply filters' }).click();
    await expect.poll(() => log.textContent()).not.toContain('600 events loaded');
    await expect.poll(() => log.textContent()).toMatch(/(\d+) events loaded · End of log/);
    const loaded = Number(/(\d+) events loaded/.exec((await log.textContent()) ?? '')?.[1]);
    const items = fleet.getByTestId('fleet-viewport').getByRole('listitem');
    const n = await items.count();
    expect(n).toBeGreaterThan(0);
    expect(n).toBe(Math.min(loaded, 20)); // the rows in view only
    for (let i = 0; i < n; i++) expect(await items.nth(i).textContent()).toMatch(/kiosk-lobby.*override\.granted/);
    await items.nth(0).getByRole('button').focus();
    await page.keyboard.press('Enter');
    await expect.poll(() => fleet.getByTestId('fleet-event-detail').textContent()).toContain('kiosk-lobby, event');
    await log.getByRole('button', { name: 'Export JSON lines' }).click();
    await expect.poll(() => log.getByRole('status').textContent()).toMatch(new RegExp(`Exported ${loaded} events to .*fleet-\\d+\\.jsonl`));
    expect(await audit(page)).toEqual([]);
    expect(errors).toEqual([]);
  });

  it('reports a kiosk whose evidence fails verification', async () => {
    const { page, errors } = await h.open('mockFleet=tampered', { fixture: true });
    await goTo(page, 'Reviewer', 'Review');
    await reviewerView(page, 'Fleet');
    const fleet = page.getByTestId('fleet');
    await fleet.getByRole('button', { name: 'Read and verify the bucket' }).click();
    await expect.poll(() => fleet.getByRole('alert').textContent()).toContain('VERIFICATION FAILED for 1 kiosk(s)');
    expect(await fleet.getByRole('row', { name: /kiosk-vault/ }).textContent()).toContain('FAILED (1 problems)');
    expect(await fleet.getByRole('heading', { name: 'Problems found in kiosk-vault' }).isVisible()).toBe(true);
    expect(await audit(page)).toEqual([]);
    expect(errors).toEqual([]);
  });

  it('says where the fleet config goes when there is none', async () => {
    const { page, errors } = await h.open('mockFleet=unconfigured', { fixture: true });
    await goTo(page, 'Reviewer', 'Review');
    await reviewerView(page, 'Fleet');
    await expect.poll(() => page.getByTestId('fleet').textContent()).toContain('No fleet config: put the bucket and read-only keys in');
    expect(await audit(page)).toEqual([]);
    expect(errors).toEqual([]);
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { audit, goTo, harness, reachFallback, reviewerView, seedGrant, seedReviewCases, signInToConsole } from './harness';

const h = harness();
beforeAll(h.start);
afterAll(h.stop);

/**
 * The cases come from the real service (seedReviewCases: two step-ups that
 * fell back, two grants; the first one's review overdue), except the
 * 2,500-event log, which the fixture backend seeds.
 */
describe('reviewer screen', () => {
  it('lists overdue reviews first and records a disposition with notes', async () => {
    const { page, errors } = await h.open('', { clock: true });
    const { overdue, live } = await seedReviewCases(h, page);
    await goTo(page, 'Reviewer', 'Review');
    const cases = page.getByTestId('cases').getByRole('button');
    await expect.poll(() => cases.count()).toBe(2);
    expect(await cases.nth(0).textContent()).toContain(overdue);
    expect(await cases.nth(0).textContent()).toContain('Overdue'); // a word, not only a colour
    expect(await cases.nth(1).textContent()).toContain(live);
    expect(await cases.nth(1).textContent()).toContain('Still in force');
    expect(await audit(page)).toEqual([]);

    // A live grant cannot be reviewed yet: the engine says so.
    await cases.nth(1).click();
    let detail = page.getByTestId('case-detail');
    await detail.getByLabel('Review notes').fill('too early');
    await detail.getByRole('button', { name: 'Fill demo credentials' }).click();
    await expect.poll(() => detail.getByLabel('Password').inputValue()).toBe('rita-demo-pass');
    await detail.getByRole('button', { name: 'Record review' }).click();
    await expect.poll(() => detail.getByRole('alert').textContent()).toContain('refused.invalid_transition');

    await cases.nth(0).click();
    expect(await cases.nth(0).getAttribute('aria-pressed')).toBe('true');
    detail = page.getByTestId('case-detail');
    expect(await detail.getByRole('heading', { name: `Override ${overdue}` }).isVisible()).toBe(true);
    for (const fact of ['olga', 'sam', 'SENSOR_FAULT', 'Camera unplugged during shift change', 'INC-2041']) {
      expect(await detail.textContent()).toContain(fact);
    }
    await detail.getByRole('radio', { name: 'Needs follow-up' }).check();
    await detail.getByLabel('Review notes').fill('Camera replaced; check the supplier');
    expect(await detail.getByLabel('Reviewer').inputValue()).toBe('rita');
    await detail.getByRole('button', { name: 'Fill demo credentials' }).click();
    await expect.poll(() => detail.getByLabel('Authenticator code').inputValue()).toMatch(/^\d{6}$/);
    expect(await audit(page)).toEqual([]);
    await detail.getByRole('button', { name: 'Record review' }).click();
    await expect
      .poll(() => page.getByRole('status').filter({ hasText: 'Reviewed by rita' }).textContent())
      .toContain('Needs follow-up');
    await expect.poll(() => cases.count()).toBe(1);
    expect(await page.getByTestId('case-detail').count()).toBe(0);
    expect(errors).toEqual([]);
  });

  it('shows the evidence of a step-up just run at this kiosk', async () => {
    const { page, errors } = await h.open();
    await reachFallback(page);
    await goTo(page, 'Reviewer', 'Review');
    await reviewerView(page, 'Evidence log');
    const log = page.getByRole('region', { name: 'Evidence log' });
    const rows = log.getByTestId('log-viewport').getByRole('row');
    await expect.poll(() => log.getByText(/events loaded/).textContent()).toMatch(/^\d+ events loaded · End of log$/);
    expect(await log.getByRole('alert').count()).toBe(0);
    // Newest first: rita's console sign-in (her two factors, then the
    // session), then the step-up's fallback and its last failed match.
    expect(await rows.nth(0).textContent()).toContain('console.signed_in rita');
    expect(await rows.nth(1).textContent()).toContain('supervisor.auth rita success');
    expect(await rows.nth(2).textContent()).toContain('fallback.triggered olga');
    expect(await rows.nth(3).textContent()).toContain('match.attempt olga no_match');
    await log.getByLabel('Event kind').selectOption('stepup.requested');
    await log.getByRole('button', { name: 'Apply filters' }).click();
    await expect.poll(() => rows.first().textContent()).toContain('stepup.requested');
    await rows.first().click();
    expect(await log.getByTestId('event-detail').textContent()).toContain('payments.approve');
    expect(errors).toEqual([]);
  });

  it('has a dashboard whose charts say their numbers in words', async () => {
    const { page, errors } = await h.open('', { clock: true });
    await seedReviewCases(h, page);
    await goTo(page, 'Reviewer', 'Review');
    await reviewerView(page, 'Overview and export');
    const dash = page.getByTestId('dashboard');
    await expect.poll(() => dash.textContent()).toContain('2 overrides: 0 reviewed, 2 waiting for review');
    const byTrigger = dash.getByRole('img', { name: /^By trigger:/ });
    expect(await byTrigger.getAttribute('aria-label')).toBe(
      'By trigger: Repeated captures failed the quality checks 1, Too many failed matches in a row 1',
    );
    expect(await dash.getByRole('img', { name: /^By supervisor:/ }).getAttribute('aria-label')).toMatch(/sam 1.*sue 1|sue 1.*sam 1/);
    expect(await dash.getByRole('figure').count()).toBeGreaterThanOrEqual(4);
    expect(await audit(page)).toEqual([]);
    expect(errors).toEqual([]);
  });

  it('verifies the chain and exports the log', async () => {
    const { page, errors } = await h.open();
    await goTo(page, 'Reviewer', 'Review');
    expect(await page.getByTestId('verify-status').textContent()).toContain('Not verified');
    await page.getByRole('button', { name: 'Verify chain' }).click();
    await expect.poll(() => page.getByTestId('verify-status').textContent()).toMatch(/Verified at .+, up to event \d+: \d+ events/);
    await reviewerView(page, 'Overview and export');
    await page.getByRole('button', { name: 'Export JSON lines' }).click();
    await expect.poll(() => page.getByText(/Exported \d+ events to .*\.jsonl/).count()).toBe(1);
    await page.getByRole('button', { name: 'Export OCSF' }).click();
    await expect.poll(() => page.getByText(/Exported \d+ events to .*\.ocsf/).count()).toBe(1);
    expect(errors).toEqual([]);
  });

  it('pages, filters and searches the evidence log, and opens an event', async () => {
    // 2,500 history events and two grants (the fixture backend: rendering
    // at scale; the real log's journeys are above): a small first page for
    // a quick first paint, then pages of 1,000.
    const { page, errors } = await h.open('mockEvents=2500', { fixture: true });
    await goTo(page, 'Reviewer', 'Review');
    await reviewerView(page, 'Evidence log');
    const log = page.getByRole('region', { name: 'Evidence log' });
    const list = log.getByTestId('log-viewport');
    const rows = list.getByRole('row');
    const loaded = () => log.getByText(/events loaded/).textContent();
    await expect.poll(loaded).toBe('200 events loaded');
    // Virtualised: a screenful of rows in the DOM, not 200.
    expect(await rows.count()).toBeLessThan(40);
    // Newest first: the fixture's two grants after the history events.
    expect(await rows.nth(0).textContent()).toContain('override.granted');
    expect(await rows.nth(1).textContent()).toContain('override.granted');

    // Scrolling near the end loads the next page; the button does too.
    await list.evaluate((el) => el.scrollTo(0, el.scrollHeight));
    await expect.poll(loaded).toBe('1200 events loaded');
    await log.getByRole('button', { name: 'Load more' }).click();
    await expect.poll(loaded).toBe('2200 events loaded');
    await log.getByRole('button', { name: 'Load more' }).click();
    await expect.poll(loaded).toBe('2502 events loaded · End of log');
    expect(await log.getByRole('button', { name: 'Load more' }).count()).toBe(0);
    await list.evaluate((el) => el.scrollTo(0, el.scrollHeight));
    await expect.poll(() => rows.last().textContent()).toMatch(/^1\b/); // the oldest event

    // Filters.
    await log.getByLabel('Event kind').selectOption('match.attempt');
    await log.getByLabel('Person').fill('olga');
    await log.getByRole('button', { name: 'Apply filters' }).click();
    // Olga's match attempts: every tenth seeded event. A new filter starts
    // at the top of the table with a first page.
    await expect.poll(loaded).toBe('200 events loaded');
    expect(await list.evaluate((el) => el.scrollTop)).toBe(0);
    await log.getByRole('button', { name: 'Load more' }).click();
    await expect.poll(loaded).toBe('250 events loaded · End of log');
    for (const text of await rows.allTextContents()) expect(text).toMatch(/match\.attempt.*olga/);

    // Search by case id: the five events of one seeded step-up.
    await log.getByLabel('Event kind').selectOption('');
    await log.getByLabel('Person').fill('');
    await log.getByLabel('Case or session id').fill('stp-seed7');
    await log.getByLabel('Case or session id').press('Enter');
    await expect.poll(loaded).toBe('5 events loaded · End of log');
    expect(await rows.count()).toBe(5);

    // Nothing matches.
    await log.getByLabel('Case or session id').fill('stp-none');
    await log.getByRole('button', { name: 'Apply filters' }).click();
    await expect.poll(() => log.getByText('No events match.').count()).toBe(1);

    // Detail.
    await log.getByLabel('Case or session id').fill('');
    await log.getByRole('button', { name: 'Apply filters' }).click();
    await rows.nth(2).click();
    const detail = log.getByTestId('event-detail');
    await detail.waitFor();
    expect(await detail.getByRole('heading').textContent()).toMatch(/^Event \d+$/);
    expect(await rows.nth(2).getAttribute('aria-selected')).toBe('true');
    // The keyboard moves the selection, and the detail follows.
    await page.keyboard.press('ArrowDown');
    expect(await rows.nth(3).getAttribute('aria-selected')).toBe('true');
    expect(await detail.getByRole('heading').textContent()).toBe(`Event ${(await rows.nth(3).getByRole('gridcell').first().textContent())?.replace(/\D/g, '')}`);
    expect(await audit(page)).toEqual([]);
    expect(errors).toEqual([]);
  });

  it('opens the log and sealed samples only after a two-factor console sign-in', async () => {
    const { page, errors } = await h.open();
    // One failed step-up, so the log has match attempts with sealed samples.
    await seedGrant(h);
    await page.getByRole('navigation', { name: 'Screens' }).getByRole('button', { name: 'Reviewer' }).click();
    await page.getByTestId('console-signin').waitFor();
    expect(await page.getByRole('region', { name: 'Evidence log' }).count()).toBe(0);
    expect(await audit(page)).toEqual([]);
    await signInToConsole(page, 'Reviewer');
    await page.getByRole('heading', { level: 2, name: 'Review' }).waitFor();

    await reviewerView(page, 'Evidence log');
    const log = page.getByRole('region', { name: 'Evidence log' });
    await log.getByLabel('Event kind').selectOption('match.attempt');
    await log.getByRole('button', { name: 'Apply filters' }).click();
    const first = log.getByTestId('log-viewport').getByRole('row').first();
    await expect.poll(() => first.textContent()).toContain('match.attempt');
    await first.click();
    const detail = log.getByTestId('event-detail');
    await detail.getByRole('button', { name: 'Show sample (face.sample)' }).click();
    const img = detail.getByTestId('sample-image');
    await img.waitFor();
    expect(await img.getAttribute('src')).toMatch(/^data:image\//);
    expect(await detail.textContent()).toContain('this view is recorded');
    expect(await audit(page)).toEqual([]);

    await page.getByTestId('console-signed-in').getByRole('button', { name: 'Sign out' }).click();
    await page.getByTestId('console-signin').waitFor();
    expect(errors).toEqual([]);
  });
});

// Browser tests: the production build (ui/dist) served by a tiny static
// server, driven by playwright-core in Debian's chromium (/usr/bin/chromium,
// installed by scripts/setup.sh; nothing is downloaded). Outside Tauri the
// app picks the in-memory mock backend (services/mock.ts), so IPC is mocked
// without touching the bundle; `?mockEvents=N` seeds the log.

import { readFile, stat } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { extname, join, normalize, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

export const UI_DIR = resolve(fileURLToPath(new URL('.', import.meta.url)), '..');
const DIST = join(UI_DIR, 'dist');

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.svg': 'image/svg+xml',
  '.woff2': 'font/woff2',
};

/** Serves ui/dist on 127.0.0.1 (a free port); unknown paths get index.html. */
export async function serveDist(): Promise<{ url: string; close: () => Promise<void> }> {
  try {
    await stat(join(DIST, 'index.html'));
  } catch {
    throw new Error(`${DIST}/index.html is missing: run \`npm run build\` first`);
  }
  const server: Server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    const file = normalize(join(DIST, path === '/' ? 'index.html' : path));
    const safe = file.startsWith(DIST) ? file : join(DIST, 'index.html');
    readFile(safe)
      .catch(() => readFile(join(DIST, 'index.html')))
      .then((body) => {
        res.writeHead(200, { 'content-type': TYPES[extname(safe)] ?? 'text/html; charset=utf-8' });
        res.end(body);
      })
      .catch((e: unknown) => {
        res.writeHead(500);
        res.end(String(e));
      });
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    close: () => new Promise((ok) => server.close(() => ok())),
  };
}

export async function launch(): Promise<Browser> {
  try {
    await stat(CHROMIUM);
  } catch {
    throw new Error(`${CHROMIUM} not found: run scripts/setup.sh (apt-get install chromium) or set CHROMIUM_PATH`);
  }
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
}

/** One server and one browser for a test file. */
export function harness() {
  let server: Awaited<ReturnType<typeof serveDist>> | null = null;
  let browser: Browser | null = null;
  const contexts: BrowserContext[] = [];
  return {
    async start() {
      server = await serveDist();
      browser = await launch();
    },
    async stop() {
      for (const c of contexts.splice(0)) await c.close().catch(() => {});
      await browser?.close();
      await server?.close();
    },
    /**
     * A fresh page (its own context, so its own mock backend) with the app
     * loaded. `clock` installs Playwright's fake clock first (countdowns,
     * expiry). Page errors and console errors are collected in `errors`.
     */
    async open(query = '', opts: { clock?: boolean } = {}): Promise<{ page: Page; errors: string[] }> {
      if (!browser || !server) throw new Error('harness not started');
      const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, reducedMotion: 'reduce' });
      contexts.push(context);
      const page = await context.newPage();
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
      page.on('console', (m) => {
        if (m.type() === 'error') errors.push(`console: ${m.text()}`);
      });
      if (opts.clock) await page.clock.install({ time: new Date('2026-03-02T09:00:00Z') });
      await page.goto(server.url + (query ? `?${query}` : ''));
      return { page, errors };
    },
  };
}

/** Clicks a top-level screen in the navigation and waits for its heading;
 * the reviewer's and admin's screens first sign in to the console (the
 * mock's demo credentials). */
export async function goTo(page: Page, tab: 'Operator' | 'Supervisor' | 'Reviewer' | 'Admin', heading: string) {
  await page.getByRole('navigation', { name: 'Screens' }).getByRole('button', { name: tab }).click();
  if (tab === 'Reviewer' || tab === 'Admin') await signInToConsole(page, tab);
  await page.getByRole('heading', { level: 2, name: heading }).waitFor();
}

/** Opens one of the reviewer console's views (its tab list). */
export async function reviewerView(page: Page, view: 'Review queue' | 'Evidence log' | 'Fleet' | 'Overview and export') {
  await page.getByRole('tablist', { name: 'Reviewer views' }).getByRole('tab', { name: new RegExp(`^${view}`) }).click();
}

/** Signs in to the console on the sign-in form of the screen shown now. */
export async function signInToConsole(page: Page, tab: 'Reviewer' | 'Admin') {
  const form = page.getByTestId('console-signin');
  await form.getByRole('heading', { level: 2, name: `${tab} sign-in` }).waitFor();
  const who = tab === 'Reviewer' ? 'rita' : 'ada';
  await form.getByLabel('Your id').fill(who);
  await form.getByLabel('Password').fill(`${who}-demo-pass`);
  await form.getByLabel('Authenticator code').fill(who === 'rita' ? '333333' : '444444');
  await form.getByRole('button', { name: 'Sign in', exact: true }).click();
  await page.getByTestId('console-signed-in').waitFor();
}

const require = createRequire(import.meta.url);
let axeSource: string | null = null;

export interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: { target: string[]; failureSummary?: string }[];
}

/**
 * Runs axe-core (WCAG 2.0/2.1/2.2 A and AA, best practices) on the page as
 * it is now and returns the serious and critical violations, each with the
 * elements it names, so a failing test says what to fix.
 */
export async function axe(page: Page): Promise<string[]> {
  axeSource ??= await readFile(require.resolve('axe-core/axe.min.js'), 'utf8');
  if (!(await page.evaluate(() => 'axe' in window))) await page.addScriptTag({ content: axeSource });
  const violations = await page.evaluate(async () => {
    const w = window as unknown as { axe: { run: (ctx: Document, o: object) => Promise<{ violations: AxeViolation[] }> } };
    const r = await w.axe.run(document, {
      runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice'] },
      resultTypes: ['violations'],
    });
    return r.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      nodes: v.nodes.map((n) => ({ target: n.target, failureSummary: n.failureSummary })),
    }));
  });
  return violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.impact} ${v.id}: ${v.help} — ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
}

/**
 * Touch targets: every visible control (a checkbox or radio through its
 * label) at least `min` CSS px in both directions. Returns the offenders.
 */
export async function smallTargets(page: Page, min = 44): Promise<string[]> {
  return page.evaluate((min) => {
    const out: string[] = [];
    const controls = document.querySelectorAll<HTMLElement>('button, a[href], input, select, textarea, [role="button"]');
    for (const el of controls) {
      const own = el.getBoundingClientRect();
      if (own.width === 0 && own.height === 0) continue; // not rendered
      const input = el as HTMLInputElement;
      const target =
        el.tagName === 'INPUT' && (input.type === 'checkbox' || input.type === 'radio') ? (el.closest('label') ?? el) : el;
      const r = target.getBoundingClientRect();
      if (r.width < min || r.height < min) {
        const name = el.getAttribute('aria-label') ?? el.textContent?.trim() ?? el.getAttribute('name') ?? '';
        out.push(`${el.tagName.toLowerCase()} "${name.slice(0, 40)}" ${Math.round(r.width)}x${Math.round(r.height)}`);
      }
    }
    return out;
  }, min);
}

/** Both checks at once, for `expect(await audit(page)).toEqual([])`. */
export async function audit(page: Page): Promise<string[]> {
  return [...(await axe(page)), ...(await smallTargets(page)).map((t) => `target under 44 px: ${t}`)];
}

/**
 * Drives the operator screen from a new request to the fallback offer: the
 * replay camera shows someone else (the `impostor` scene) until the failure
 * limit (5 in the mock's policy) fires `failure_limit`. The one place that
 * knows how the operator screen produces a failure.
 */
export async function reachFallback(page: Page, operator = 'Olga Operator') {
  await goTo(page, 'Operator', 'Step-up');
  await page.getByRole('button', { name: 'Start step-up' }).click();
  await page.getByRole('button', { name: operator }).click();
  await page.getByRole('combobox', { name: 'Replay scene' }).selectOption('impostor');
  const counts = page.getByTestId('counts');
  for (let i = 1; i <= 5; i++) {
    await page.getByRole('button', { name: 'Verify me' }).click();
    await counts.getByText(`Failed matches in a row: ${i} of 5`).waitFor();
  }
  await page.getByRole('alert').filter({ hasText: 'could not be verified' }).waitFor();
}

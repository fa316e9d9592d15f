// Browser tests: the production build (ui/dist) served by a tiny static
// server, driven by playwright-core in Debian's chromium (/usr/bin/chromium,
// installed by scripts/setup.sh; nothing is downloaded).
//
// The journeys run against the real Rust service: the test bridge
// (src-tauri/examples/ipc_bridge.rs: the app's own commands and capability
// on Tauri's mock runtime, over a fresh copy of a real `init --demo` data
// dir for every page) answers `/__bridge/ipc/<command>`, and the page's
// `window.__TAURI_INTERNALS__.invoke` is pointed at it, so the UI takes
// its Tauri path (`tauriBackend`) and every rule and code is the engine's.
// A page opened with `{ fixture: true }` gets the in-memory fixture backend
// instead (services/fixture.ts), for states the bridge cannot make (a huge
// seeded log, a sync server's alerts); `?mockEvents=N` seeds its log.

import { spawn, type ChildProcess } from 'node:child_process';
import { readFile, stat } from 'node:fs/promises';
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { extname, join, normalize, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
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
export async function serveDist(bridge?: string): Promise<{ url: string; close: () => Promise<void> }> {
  try {
    await stat(join(DIST, 'index.html'));
  } catch {
    throw new Error(`${DIST}/index.html is missing: run \`npm run build\` first`);
  }
  const server: Server = createServer((req, res) => {
    if (bridge && req.url?.startsWith('/__bridge/')) {
      // Same origin for the page: forwarded to the bridge as is.
      const fwd = httpRequest(bridge + req.url.slice('/__bridge'.length), { method: req.method, headers: req.headers }, (r) => {
        res.writeHead(r.statusCode ?? 502, r.headers);
        r.pipe(res);
      });
      fwd.on('error', (e) => {
        res.writeHead(502);
        res.end(String(e));
      });
      req.pipe(fwd);
      return;
    }
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

const REPO = resolve(UI_DIR, '..');
const TARGET = process.env.CARGO_TARGET_DIR ?? join(REPO, 'target');
/** The test bridge and the CLI it makes its demo data dir with (built by scripts/test.sh). */
export const BRIDGE = process.env.COUNTERSIGN_IPC_BRIDGE ?? join(TARGET, 'debug/examples/ipc_bridge');
export const CLI = process.env.COUNTERSIGN_CLI ?? join(TARGET, 'debug/countersign');

/** Starts the bridge (it prints its address once its demo template exists). */
async function startBridge(): Promise<{ url: string; child: ChildProcess }> {
  for (const f of [BRIDGE, CLI]) {
    try {
      await stat(f);
    } catch {
      throw new Error(`${f} is missing: run \`cargo build --workspace --example ipc_bridge --bin countersign\``);
    }
  }
  const child = spawn(BRIDGE, ['--cli', CLI, '--faces', join(REPO, 'assets/demo/faces')], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const url = await new Promise<string>((ok, fail) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /listening (http:\/\/\S+)/.exec(out);
      if (m?.[1]) ok(m[1]);
    });
    child.on('exit', (code) => fail(new Error(`ipc_bridge exited (${code}) before listening`)));
  });
  return { url, child };
}

async function post(url: string, body: unknown = {}): Promise<unknown> {
  const r = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const text = await r.text();
  const value: unknown = text ? JSON.parse(text) : null;
  if (!r.ok) throw new Error(`${url}: ${r.status} ${text}`);
  return value;
}

/** What the page runs first: Tauri's IPC entry point, answered by the bridge. */
const TAURI_SHIM = `
  globalThis.isTauri = true;
  window.__TAURI_INTERNALS__ = {
    metadata: { currentWindow: { label: 'main' }, currentWebview: { windowLabel: 'main', label: 'main' } },
    transformCallback: () => 0,
    async invoke(cmd, args) {
      const r = await fetch('/__bridge/ipc/' + cmd, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(args ?? {}),
      });
      const answer = await r.json();
      if (!answer.ok) throw answer.error;
      return answer.value;
    },
  };
`;

export interface OpenOptions {
  /** Installs Playwright's fake clock (at the real time); move it with `h.advance`. */
  clock?: boolean;
  /** The in-memory fixture backend instead of the real service. */
  fixture?: boolean;
  /** The real service with its camera unplugged (no replay scenes). */
  unplugged?: boolean;
  /** The real service over an empty data dir (`countersign init` not run). */
  uninitialised?: boolean;
}

export type Harness = ReturnType<typeof harness>;

/** One server, one bridge and one browser for a test file. */
export function harness() {
  let server: Awaited<ReturnType<typeof serveDist>> | null = null;
  let browser: Browser | null = null;
  let bridge: Awaited<ReturnType<typeof startBridge>> | null = null;
  const contexts: BrowserContext[] = [];
  const h = {
    async start() {
      bridge = await startBridge();
      server = await serveDist(bridge.url);
      browser = await launch();
    },
    async stop() {
      for (const c of contexts.splice(0)) await c.close().catch(() => {});
      await browser?.close();
      await server?.close();
      bridge?.child.stdin?.end();
    },
    /** Calls a command of the real service directly (setting up a case). */
    async call<T>(command: string, args: Record<string, unknown> = {}): Promise<T> {
      if (!bridge) throw new Error('harness not started');
      const answer = (await post(`${bridge.url}/ipc/${command}`, args)) as { ok: boolean; value?: T; error?: unknown };
      if (!answer.ok) throw new Error(`${command}: ${JSON.stringify(answer.error)}`);
      return answer.value as T;
    },
    /** A demo person's factors now (the real TOTP code, from `demo_credentials`). */
    async factors(id: string): Promise<{ secret: string; otp: string }> {
      const all = await h.call<{ id: string; secret: string; otp: string }[]>('demo_credentials');
      const one = all.find((c) => c.id === id);
      if (!one) throw new Error(`no demo credentials for ${id}`);
      return one;
    },
    /** Moves the page's fake clock and the engine's clock forward together. */
    async advance(page: Page, time: string) {
      // 'mm:ss' or 'hh:mm:ss', as Playwright's clock takes them.
      const seconds = time.split(':').reduce((acc, part) => acc * 60 + Number(part), 0);
      await post(`${bridge!.url}/clock/advance`, { ms: seconds * 1000 });
      await page.clock.fastForward(seconds * 1000);
    },
    /**
     * A fresh page (its own context and its own fresh demo data dir behind
     * the bridge) with the app loaded. `clock` installs Playwright's fake
     * clock first (countdowns, expiry). Page errors and console errors are
     * collected in `errors`.
     */
    async open(query = '', opts: OpenOptions = {}): Promise<{ page: Page; errors: string[] }> {
      if (!browser || !server || !bridge) throw new Error('harness not started');
      const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, reducedMotion: 'reduce' });
      contexts.push(context);
      const page = await context.newPage();
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
      page.on('console', (m) => {
        if (m.type() === 'error') errors.push(`console: ${m.text()}`);
      });
      if (opts.fixture) {
        if (opts.clock) await page.clock.install({ time: new Date('2026-03-02T09:00:00Z') });
      } else {
        await post(`${bridge.url}/reset`, { unplugged: opts.unplugged ?? false, uninitialised: opts.uninitialised ?? false });
        await page.addInitScript(TAURI_SHIM);
        if (opts.clock) await page.clock.install();
      }
      await page.goto(server.url + (query ? `?${query}` : ''));
      return { page, errors };
    },
  };
  return h;
}

/** What a seeded case is made of (the real service's own flow, step by step). */
export interface SeedGrant {
  supervisor?: 'sam' | 'sue';
  /** `impostor`: five failed matches (failure_limit); `no-face`: three failed captures (capture_quality). */
  scene?: 'impostor' | 'no-face';
  minutes?: number;
  reasonCode?: string;
  note?: string;
  ticket?: string | null;
}

/**
 * Runs a step-up to its fallback and grants an override through the real
 * service (the bridge), as the operator and supervisor screens would:
 * olga fails at the camera, the supervisor signs in with two factors and
 * grants. Returns the grant's id.
 */
export async function seedGrant(h: Harness, o: SeedGrant = {}): Promise<string> {
  const v = await h.call<{ sessionId: string }>('start_stepup', {
    request: { scope: ['payments.approve'], requester: 'ledger-app' },
  });
  const sessionId = v.sessionId;
  await h.call('identify', { sessionId, operator: 'olga' });
  const scene = o.scene ?? 'impostor';
  await h.call('set_replay_scene', { scene });
  for (let i = 0; i < (scene === 'impostor' ? 5 : 3); i++) await h.call('verify_me', { sessionId });
  const supervisor = o.supervisor ?? 'sam';
  const f = await h.factors(supervisor);
  await h.call('supervisor_login', { login: { sessionId, supervisor, secret: f.secret, otp: f.otp } });
  const grant = await h.call<{ id: string }>('grant_override', {
    grant: {
      sessionId,
      scope: ['payments.approve'],
      durationMinutes: o.minutes ?? 15,
      reasonCode: o.reasonCode ?? 'SENSOR_FAULT',
      note: o.note ?? 'Camera fogged at the counter',
      ticket: o.ticket === undefined ? 'INC-2041' : o.ticket,
      compensatingControl: 'Payments held for call-back',
    },
  });
  await h.call('set_replay_scene', { scene: 'genuine-olga' });
  return grant.id;
}

/**
 * Two cases for the reviewer, made through the real service: one grant
 * (sam, failure_limit) whose review is overdue, the policy's 72 hours
 * after it ended having passed on both clocks, and one (sue,
 * capture_quality) still in force. The page must have been opened with
 * `{ clock: true }`.
 */
export async function seedReviewCases(h: Harness, page: Page): Promise<{ overdue: string; live: string }> {
  const overdue = await seedGrant(h, { note: 'Camera unplugged during shift change' });
  await h.advance(page, '73:00:00');
  const live = await seedGrant(h, { supervisor: 'sue', scene: 'no-face', reasonCode: 'ENVIRONMENT', ticket: null, minutes: 60 });
  return { overdue, live };
}

/**
 * Picks a demo scene on the screen's select and waits until the service
 * has it: the select's change is an IPC call of its own, and an attempt
 * started before it lands would use the old scene. With the fixture
 * backend the pick is all there is.
 */
export async function chooseScene(page: Page, which: 'camera' | 'finger', scene: string) {
  const label = which === 'camera' ? 'Replay scene' : 'Demo finger';
  await page.getByRole('combobox', { name: label }).selectOption(scene);
  const command = which === 'camera' ? 'capture_status' : 'finger_status';
  await expect
    .poll(() =>
      page.evaluate(async (command) => {
        const ipc = (window as unknown as { __TAURI_INTERNALS__?: { invoke: (c: string) => Promise<unknown> } })
          .__TAURI_INTERNALS__;
        if (!ipc) return null;
        return ((await ipc.invoke(command)) as { scene: string | null }).scene;
      }, command),
    )
    .toBeOneOf([scene, null]);
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

/** The fixture backend's fixed demo codes (services/mock-data.ts). */
const FIXTURE_OTP: Record<string, string> = { sam: '111111', sue: '222222', rita: '333333', ada: '444444' };

/**
 * A demo person's factors for the page's backend: with the real service,
 * its `demo_credentials` (the current TOTP code of the demo secret, one not
 * used yet); with the fixture backend, its fixed codes.
 */
export async function demoFactors(page: Page, id: string): Promise<{ secret: string; otp: string }> {
  const real = await page.evaluate(async (id) => {
    const ipc = (window as unknown as { __TAURI_INTERNALS__?: { invoke: (c: string) => Promise<unknown> } })
      .__TAURI_INTERNALS__;
    if (!ipc) return null;
    const all = (await ipc.invoke('demo_credentials')) as { id: string; secret: string; otp: string }[];
    return all.find((c) => c.id === id) ?? null;
  }, id);
  return real ?? { secret: `${id}-demo-pass`, otp: FIXTURE_OTP[id] ?? '000000' };
}

/** Signs in to the console on the sign-in form of the screen shown now. */
export async function signInToConsole(page: Page, tab: 'Reviewer' | 'Admin') {
  const form = page.getByTestId('console-signin');
  await form.getByRole('heading', { level: 2, name: `${tab} sign-in` }).waitFor();
  const who = tab === 'Reviewer' ? 'rita' : 'ada';
  const { secret, otp } = await demoFactors(page, who);
  await form.getByLabel('Your id').fill(who);
  await form.getByLabel('Password').fill(secret);
  await form.getByLabel('Authenticator code').fill(otp);
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
  await chooseScene(page, 'camera', 'impostor');
  const counts = page.getByTestId('counts');
  for (let i = 1; i <= 5; i++) {
    await page.getByRole('button', { name: 'Verify me' }).click();
    await counts.getByText(`Failed matches in a row: ${i} of 5`).waitFor();
  }
  await page.getByRole('alert').filter({ hasText: 'could not be verified' }).waitFor();
}

// `npm run bench:ui`: the reviewer's evidence log over 100,000 ledger rows
// (the mock backend seeded with `?mockEvents=`), in Debian's chromium.
// Prints: navigation to the app ready (includes seeding the in-memory mock),
// the Evidence log tab (after the console sign-in) to the first rows
// painted, scrolling to the end of the log
// (every page fetched on the way, as a reviewer holding End would), jumps
// within the loaded list, DOM size and the JS heap. Timings are printed,
// never asserted. BENCH_EVENTS and BENCH_RUNS override the defaults.

import os from 'node:os';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, it } from 'vitest';
import { CHROMIUM, harness, signInToConsole } from './harness';

const EVENTS = Number(process.env.BENCH_EVENTS ?? 100_000);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);

const h = harness();
beforeAll(h.start);
afterAll(h.stop);

async function heapMiB(page: Page): Promise<number> {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('HeapProfiler.collectGarbage');
  const { usedSize } = await cdp.send('Runtime.getHeapUsage');
  await cdp.detach();
  return usedSize / 1024 / 1024;
}

interface Run {
  readyMs: number;
  firstRowsMs: number;
  toEndMs: number;
  pages: number;
  jumpMedianMs: number;
  jumpMaxMs: number;
  jumpWorkMedianMs: number;
  jumpWorkMaxMs: number;
  domRows: number;
  domNodes: number;
  heapReadyMiB: number;
  heapFirstMiB: number;
  heapEndMiB: number;
}

async function once(): Promise<Run> {
  const t0 = Date.now();
  const { page, errors } = await h.open(`mockEvents=${EVENTS}`);
  await page.getByRole('navigation', { name: 'Screens' }).waitFor();
  const readyMs = Date.now() - t0;
  const heapReadyMiB = await heapMiB(page);

  // The reviewer's console (a two-factor sign-in, not timed), then its
  // Evidence log tab → first rows painted, timed inside the page.
  await page.getByRole('navigation', { name: 'Screens' }).getByRole('button', { name: 'Reviewer' }).click();
  await signInToConsole(page, 'Reviewer');
  const firstRowsMs = await page.evaluate(async () => {
    const tab = [...document.querySelectorAll('[role="tab"]')].find((b) => b.textContent?.trim() === 'Evidence log');
    const t = performance.now();
    (tab as HTMLButtonElement).click();
    await new Promise<void>((done) => {
      const poll = () =>
        document.querySelector('[data-testid="log-viewport"] [role="row"]')
          ? requestAnimationFrame(() => setTimeout(done))
          : requestAnimationFrame(poll);
      poll();
    });
    return performance.now() - t;
  });
  const heapFirstMiB = await heapMiB(page);

  // Scroll to the end: keep the viewport at the bottom until the log says
  // "End of log" and its oldest row (seq 1) is painted.
  const { toEndMs, pages } = await page.evaluate(async () => {
    const vp = document.querySelector<HTMLElement>('[data-testid="log-viewport"]')!;
    const status = vp.closest('section')!.querySelector('p.count')!;
    const frame = () => new Promise((r) => requestAnimationFrame(r));
    const t = performance.now();
    let pages = 0;
    let last = status.textContent;
    for (;;) {
      vp.scrollTop = vp.scrollHeight;
      await frame();
      if (status.textContent !== last) {
        pages += 1;
        last = status.textContent;
      }
      if (last?.includes('End of log')) {
        vp.scrollTop = vp.scrollHeight;
        const seqs = () => [...vp.querySelectorAll('.seq')].map((e) => e.textContent);
        while (!seqs().includes('1')) await frame();
        await frame();
        break;
      }
    }
    return { toEndMs: performance.now() - t, pages };
  });
  const heapEndMiB = await heapMiB(page);

  // Jumps to 50 places in the loaded list: the work of one jump (scroll
  // handler, Svelte's update, style and layout of the new rows, measured
  // synchronously) and the time until the frame after it (which includes
  // waiting for the next vsync, 16.7 ms at most).
  const jumps = await page.evaluate(async () => {
    const vp = document.querySelector<HTMLElement>('[data-testid="log-viewport"]')!;
    const frame = () => new Promise((r) => requestAnimationFrame(r));
    const work: number[] = [];
    const framed: number[] = [];
    for (let i = 0; i < 50; i++) {
      const target = Math.floor((((i * 7919) % 50) / 50) * (vp.scrollHeight - vp.clientHeight));
      await frame();
      const t = performance.now();
      vp.scrollTop = target;
      vp.dispatchEvent(new Event('scroll'));
      await Promise.resolve(); // Svelte flushes in a microtask
      void vp.querySelector('.seq')?.getBoundingClientRect(); // forces style and layout
      work.push(performance.now() - t);
      await frame();
      framed.push(performance.now() - t);
    }
    const sorted = (v: number[]) => v.sort((a, b) => a - b);
    return {
      work: sorted(work),
      times: sorted(framed),
      domRows: vp.querySelectorAll('[role="row"]').length,
      domNodes: document.getElementsByTagName('*').length,
    };
  });
  if (errors.length) throw new Error(errors.join('\n'));
  await page.context().close();
  return {
    readyMs,
    firstRowsMs,
    toEndMs,
    pages,
    jumpMedianMs: jumps.times[Math.floor(jumps.times.length / 2)]!,
    jumpMaxMs: jumps.times[jumps.times.length - 1]!,
    jumpWorkMedianMs: jumps.work[Math.floor(jumps.work.length / 2)]!,
    jumpWorkMaxMs: jumps.work[jumps.work.length - 1]!,
    domRows: jumps.domRows,
    domNodes: jumps.domNodes,
    heapReadyMiB,
    heapFirstMiB,
    heapEndMiB,
  };
}

it(`reviewer list over ${EVENTS} events`, async () => {
  const runs: Run[] = [];
  for (let i = 0; i < RUNS; i++) runs.push(await once());
  const med = (f: (r: Run) => number) => {
    const v = runs.map(f).sort((a, b) => a - b);
    return v[Math.floor(v.length / 2)]!;
  };
  const ms = (n: number) => `${n.toFixed(0)} ms`;
  const ms1 = (n: number) => `${n.toFixed(1)} ms`;
  const mib = (n: number) => `${n.toFixed(1)} MiB`;
  const load = os.loadavg().map((l) => l.toFixed(2)).join(' ');
  console.log(`\nUI benchmark: reviewer evidence log, ${EVENTS} events, median of ${RUNS} runs`);
  console.log(`machine: ${os.cpus().length} vCPU ${os.cpus()[0]?.model ?? ''}, load average ${load}; ${CHROMIUM} headless`);
  const rows: [string, string][] = [
    ['navigation to app ready (mock seeded in the page)', ms(med((r) => r.readyMs))],
    ['Evidence log tab to first rows painted', ms(med((r) => r.firstRowsMs))],
    [`scroll to the end (all rows fetched, ${runs[0]!.pages} pages)`, ms(med((r) => r.toEndMs))],
    ['jump in the loaded list: work, median / max of 50', `${ms1(med((r) => r.jumpWorkMedianMs))} / ${ms1(med((r) => r.jumpWorkMaxMs))}`],
    ['jump in the loaded list: to the next frame, median / max', `${ms(med((r) => r.jumpMedianMs))} / ${ms(med((r) => r.jumpMaxMs))}`],
    ['rows in the DOM / elements in the document', `${runs[0]!.domRows} / ${runs[0]!.domNodes}`],
    ['JS heap: app ready (mock holds the events)', mib(med((r) => r.heapReadyMiB))],
    ['JS heap: first rows painted', mib(med((r) => r.heapFirstMiB))],
    ['JS heap: every row loaded in the list', mib(med((r) => r.heapEndMiB))],
  ];
  const w = Math.max(...rows.map(([k]) => k.length));
  for (const [k, v] of rows) console.log(`  ${k.padEnd(w)}  ${v}`);
  console.log(`  per run: ${runs.map((r) => `${ms(r.firstRowsMs)} first, ${ms(r.toEndMs)} end`).join('; ')}`);
});

import { render, screen } from '@testing-library/svelte';
import { describe, expect, it } from 'vitest';
import { strings } from '../i18n/strings';
import { createMockBackend } from '../services/backend';
import { ClockWatch, formatBehind } from '../state/health.svelte';
import ClockBanner from './ClockBanner.svelte';

async function watchWith(options: Parameters<typeof createMockBackend>[0]) {
  const watch = new ClockWatch(createMockBackend(options));
  await watch.refresh();
  render(ClockBanner, { props: { watch } });
  return watch;
}

describe('ClockBanner', () => {
  it('says on screen that writes are refused while the clock is behind the ledger', async () => {
    await watchWith({
      clockHealth: {
        writesRefused: true,
        behindMs: 3_600_000,
        code: 'clock.behind_ledger',
        lastRefusalSeq: 42,
      },
    });
    const alert = screen.getByRole('alert');
    expect(alert).toHaveTextContent(strings.clock.behindTitle);
    expect(alert).toHaveTextContent('1 h 0 min behind the last recorded event');
    expect(alert).toHaveTextContent('event 42');
    expect(alert).toHaveTextContent('clock.behind_ledger');
  });

  it('shows nothing while the clock is right', async () => {
    await watchWith({});
    expect(screen.queryByRole('alert')).toBeNull();
  });

  it('keeps the last answer when the backend cannot be asked', async () => {
    const watch = await watchWith({ error: { code: 'E_DATA_DIR', message: 'gone' } });
    expect(watch.health).toBeNull();
    expect(screen.queryByRole('alert')).toBeNull();
  });

  it('formats how far behind', () => {
    expect(formatBehind(12_400)).toBe('12 s');
    expect(formatBehind(200_000)).toBe('3 min 20 s');
    expect(formatBehind(3_900_000)).toBe('1 h 5 min');
  });
});

import { render, screen } from '@testing-library/svelte';
import { describe, expect, it } from 'vitest';
import { strings } from '../i18n/strings';
import { createMockBackend } from '../services/backend';
import { HealthWatch, formatBehind } from '../state/health.svelte';
import HealthBanner from './HealthBanner.svelte';

async function watchWith(options: Parameters<typeof createMockBackend>[0]) {
  const watch = new HealthWatch(createMockBackend(options));
  await watch.refresh();
  render(HealthBanner, { props: { watch } });
  return watch;
}

describe('HealthBanner', () => {
  it('says on screen that writes are refused while the clock is behind the ledger', async () => {
    await watchWith({
      kioskHealth: {
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

  it('says the evidence was rolled back, with the anchor\'s code and heads', async () => {
    await watchWith({
      kioskHealth: {
        writesRefused: true,
        code: 'anchor.ledger_behind',
        anchor: { code: 'anchor.ledger_behind', message: 'the ledger ends at seq 12, the anchor is at seq 33' },
      },
    });
    const alert = screen.getByRole('alert');
    expect(alert).toHaveTextContent(strings.anchor.title);
    expect(alert).toHaveTextContent('seq 12');
    expect(alert).toHaveTextContent('anchor.ledger_behind');
    expect(screen.queryByTestId('clock-banner')).toBeNull();
  });

  it('shows nothing while the clock is right', async () => {
    await watchWith({});
    expect(screen.queryByRole('alert')).toBeNull();
  });

  it('keeps the last answer when the backend cannot be asked', async () => {
    const watch = await watchWith({ error: { code: 'app.data_dir', message: 'gone' } });
    expect(watch.health).toBeNull();
    expect(screen.queryByRole('alert')).toBeNull();
  });

  it('formats how far behind', () => {
    expect(formatBehind(12_400)).toBe('12 s');
    expect(formatBehind(200_000)).toBe('3 min 20 s');
    expect(formatBehind(3_900_000)).toBe('1 h 5 min');
  });
});

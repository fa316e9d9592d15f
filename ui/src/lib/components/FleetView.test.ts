import { fireEvent, render, screen, within } from '@testing-library/svelte';
import { describe, expect, it } from 'vitest';
import { strings } from '../i18n/strings';
import { createMockBackend } from '../services/backend';
import FleetView from './FleetView.svelte';

const s = strings.fleet;
const l = strings.log;

async function opened(options: Parameters<typeof createMockBackend>[0] = {}) {
  render(FleetView, { props: { backend: createMockBackend(options) } });
  await fireEvent.click(await screen.findByRole('button', { name: s.open }));
  return screen.findByTestId('fleet-verdict');
}

describe('FleetView', () => {
  it('says where the fleet config goes when there is none', async () => {
    render(FleetView, { props: { backend: createMockBackend({ sync: { fleet: 'unconfigured' } }) } });
    expect(await screen.findByText(s.notConfigured('/tmp/countersign-mock/fleet.toml'))).toBeInTheDocument();
    expect(screen.queryByRole('button', { name: s.open })).toBeNull();
  });

  it('reads the bucket on demand and lists each kiosk verified, in words', async () => {
    render(FleetView, { props: { backend: createMockBackend() } });
    expect(await screen.findByText(s.notRead)).toBeInTheDocument();
    await fireEvent.click(screen.getByRole('button', { name: s.open }));
    expect(await screen.findByTestId('fleet-verdict')).toHaveTextContent(s.allOk);
    const rows = within(screen.getByTestId('fleet-kiosks')).getAllByRole('row');
    expect(rows).toHaveLength(3);
    expect(rows[1]).toHaveTextContent(new RegExp(`kiosk-lobby\\s*${s.verified}\\s*300\\s*300`));
    expect(await screen.findByText(l.rows(200))).toBeInTheDocument();
    expect(screen.getByRole('button', { name: s.reopen })).toBeInTheDocument();
  });

  it('reports a kiosk that failed verification, with its problems', async () => {
    const verdict = await opened({ sync: { fleet: 'tampered' } });
    expect(verdict).toHaveAttribute('role', 'alert');
    expect(verdict).toHaveTextContent(s.someBad(1));
    const vault = within(screen.getByTestId('fleet-kiosks')).getByRole('row', { name: /kiosk-vault/ });
    expect(vault).toHaveTextContent(s.failed(1));
    expect(vault).toHaveTextContent('10');
    expect(screen.getByRole('heading', { name: s.problemsOf('kiosk-vault') })).toBeInTheDocument();
    expect(screen.getByText(/seq 11: the row hash does not recompute/)).toBeInTheDocument();
  });

  it('filters across kiosks like the local log, shows an event, and exports the selection', async () => {
    await opened();
    await screen.findByText(l.rows(200));
    await fireEvent.change(screen.getByLabelText(s.kiosk), { target: { value: 'kiosk-vault' } });
    await fireEvent.click(screen.getByLabelText(s.pendingReview));
    await fireEvent.click(screen.getByRole('button', { name: l.apply }));
    const items = await within(await screen.findByTestId('fleet-viewport')).findAllByRole('listitem');
    expect(screen.getByText(new RegExp(l.end))).toBeInTheDocument();
    for (const it of items) {
      expect(it).toHaveTextContent('kiosk-vault');
      expect(it).toHaveTextContent('override.granted');
    }
    await fireEvent.click(within(items[0]!).getByRole('button'));
    expect(await screen.findByTestId('fleet-event-detail')).toHaveTextContent('mock evidence');
    await fireEvent.click(screen.getByRole('button', { name: s.exportOcsf }));
    const done = await screen.findByText(/^Exported \d+ events to .*fleet-\d+\.ocsf\.jsonl$/);
    expect(done).toHaveTextContent(`Exported ${items.length} events`);
  });
});

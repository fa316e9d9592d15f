import { fireEvent, render, screen } from '@testing-library/svelte';
import { describe, expect, it, vi } from 'vitest';
import { formatAge, strings } from '../i18n/strings';
import { createMockBackend } from '../services/backend';
import SyncStatus from './SyncStatus.svelte';

const s = strings.sync;
const NOW = Date.UTC(2026, 2, 2, 9, 0, 0);

describe('SyncStatus', () => {
  it('shows the queue, what is in flight and the last upload while within the limit', async () => {
    render(SyncStatus, { props: { backend: createMockBackend({ now: () => NOW }) } });
    const summary = await screen.findByTestId('sync-summary');
    expect(summary).toHaveTextContent(s.stateQueued(4));
    expect(summary).toHaveAttribute('role', 'status');
    expect(summary.querySelector('svg')).not.toBeNull();
    expect(screen.getByText(s.targetValue('countersign-evidence', 'https://s3.example.internal'))).toBeInTheDocument();
    expect(screen.getByText(s.queuedValue(3, 1, 0))).toBeInTheDocument();
    expect(screen.getByText(s.uploaders.running)).toBeInTheDocument();
    expect(screen.getByText(new RegExp(s.ago('14 s')))).toBeInTheDocument();
    expect(screen.getByText(formatAge(3_600_000))).toBeInTheDocument();
    expect(screen.queryByText(s.lastError)).toBeNull();
  });

  it('says the alert in words, with the age and the policy limit, and the last error', async () => {
    render(SyncStatus, { props: { backend: createMockBackend({ now: () => NOW, sync: { status: 'alert' } }) } });
    const alert = await screen.findByRole('alert');
    expect(alert).toHaveTextContent(s.stateAlert('2 h 4 min', '1 h 0 min'));
    expect(screen.getByText(s.lastError)).toBeInTheDocument();
    expect(screen.getByText(/connection refused/)).toBeInTheDocument();
  });

  it('says when the kiosk has no sync config, and still counts the backlog', async () => {
    render(SyncStatus, { props: { backend: createMockBackend({ now: () => NOW, sync: { status: 'unconfigured' } }) } });
    expect(await screen.findByTestId('sync-summary')).toHaveTextContent(s.stateNotConfigured);
    expect(screen.getByText(s.uploaders.not_configured)).toBeInTheDocument();
    expect(screen.getByText(s.queuedValue(1207, 10, 4))).toBeInTheDocument();
    expect(screen.queryByText(s.target)).toBeNull();
    expect(screen.getByText(s.never)).toBeInTheDocument();
  });

  it('refreshes by itself and on demand, and shows a failed call', async () => {
    const backend = createMockBackend({ now: () => NOW });
    const spy = vi.spyOn(backend, 'syncStatus');
    render(SyncStatus, { props: { backend, intervalMs: 50 } });
    await screen.findByTestId('sync-summary');
    await vi.waitFor(() => expect(spy.mock.calls.length).toBeGreaterThanOrEqual(3));
    spy.mockRejectedValueOnce({ code: 'sync.config', message: 'sync.toml: bad' });
    await fireEvent.click(screen.getByRole('button', { name: s.refresh }));
    expect(await screen.findByText(/sync.toml: bad/)).toBeInTheDocument();
  });
});

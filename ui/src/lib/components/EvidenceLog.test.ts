import { fireEvent, render, screen, within } from '@testing-library/svelte';
import { describe, expect, it } from 'vitest';
import { strings } from '../i18n/strings';
import { createMockBackend } from '../services/backend';
import EvidenceLog from './EvidenceLog.svelte';

const s = strings.log;

describe('EvidenceLog', () => {
  it('pages by keyset and keeps only the rows in view in the DOM', async () => {
    render(EvidenceLog, { props: { backend: createMockBackend({ seed: true }), pageSize: 200, morePageSize: 200 } });
    expect(await screen.findByText(s.rows(200))).toBeInTheDocument();
    const viewport = screen.getByTestId('log-viewport');
    expect(within(viewport).getAllByRole('row').length).toBeLessThanOrEqual(25);
    await fireEvent.click(screen.getByRole('button', { name: s.loadMore }));
    expect(await screen.findByText(s.rows(400))).toBeInTheDocument();
  });

  it('filters by kind and shows an event in detail', async () => {
    render(EvidenceLog, { props: { backend: createMockBackend({ seed: true }) } });
    await screen.findByText(s.rows(200));
    await fireEvent.change(screen.getByLabelText(s.kind), { target: { value: 'override.granted' } });
    await fireEvent.click(screen.getByRole('button', { name: s.apply }));
    expect(await screen.findByText(`${s.rows(2)} · ${s.end}`)).toBeInTheDocument();
    const rows = within(screen.getByTestId('log-viewport')).getAllByRole('row');
    await fireEvent.click(rows[0]!);
    expect(rows[0]).toHaveAttribute('aria-selected', 'true');
    expect(await screen.findByTestId('event-detail')).toHaveTextContent('compensatingControl');
  });

  it('moves through the table with the keyboard, the detail following', async () => {
    render(EvidenceLog, { props: { backend: createMockBackend({ seed: true }) } });
    await screen.findByText(s.rows(200));
    const viewport = screen.getByTestId('log-viewport');
    const first = within(viewport).getAllByRole('row')[0]!;
    // One row in the tab order, the rest reached with the arrow keys.
    expect(first).toHaveAttribute('tabindex', '0');
    expect(within(viewport).getAllByRole('row').filter((r) => r.getAttribute('tabindex') === '0')).toHaveLength(1);
    const seqOf = (r: HTMLElement) => within(r).getAllByRole('gridcell')[0]!.textContent!.replace(/\D/g, '');
    await fireEvent.keyDown(first, { key: 'Enter' });
    const detail = await screen.findByTestId('event-detail');
    expect(detail).toHaveTextContent(s.detailTitle(Number(seqOf(first))));
    await fireEvent.keyDown(first, { key: 'ArrowDown' });
    const second = within(viewport).getAllByRole('row')[1]!;
    expect(second).toHaveAttribute('aria-selected', 'true');
    expect(document.activeElement).toBe(second);
    expect(screen.getByTestId('event-detail')).toHaveTextContent(s.detailTitle(Number(seqOf(second))));
    // End: the last loaded row, rendered and focused though it was far below.
    await fireEvent.keyDown(second, { key: 'End' });
    const focused = document.activeElement as HTMLElement;
    expect(focused.getAttribute('aria-rowindex')).toBe(String(200 + 1));
    expect(focused).toHaveAttribute('aria-selected', 'true');
  });
});

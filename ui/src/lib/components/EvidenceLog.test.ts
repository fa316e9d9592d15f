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
    expect(within(viewport).getAllByRole('listitem').length).toBeLessThanOrEqual(25);
    await fireEvent.click(screen.getByRole('button', { name: s.loadMore }));
    expect(await screen.findByText(s.rows(400))).toBeInTheDocument();
  });

  it('filters by kind and shows an event in detail', async () => {
    render(EvidenceLog, { props: { backend: createMockBackend({ seed: true }) } });
    await screen.findByText(s.rows(200));
    await fireEvent.change(screen.getByLabelText(s.kind), { target: { value: 'override.granted' } });
    await fireEvent.click(screen.getByRole('button', { name: s.apply }));
    expect(await screen.findByText(`${s.rows(2)} · ${s.end}`)).toBeInTheDocument();
    const rows = within(screen.getByTestId('log-viewport')).getAllByRole('listitem');
    await fireEvent.click(within(rows[0]!).getByRole('button'));
    expect(await screen.findByTestId('event-detail')).toHaveTextContent('compensatingControl');
  });
});

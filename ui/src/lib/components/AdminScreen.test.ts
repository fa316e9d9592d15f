import { render, screen, within } from '@testing-library/svelte';
import { describe, expect, it } from 'vitest';
import { strings } from '../i18n/strings';
import { createMockBackend } from '../services/backend';
import { createJourney } from '../state/journey.svelte';
import AdminScreen from './AdminScreen.svelte';

describe('AdminScreen', () => {
  it('lists people with their roles and the policy bounds', async () => {
    const journey = createJourney(createMockBackend());
    await journey.load();
    render(AdminScreen, { props: { journey } });
    const rows = within(screen.getByTestId('people')).getAllByRole('row');
    expect(rows).toHaveLength(7);
    expect(rows[4]).toHaveTextContent('Sue Supervisor');
    expect(rows[4]).toHaveTextContent('Operator, Supervisor');
    expect(screen.getByText(strings.admin.caps(15, 60))).toBeInTheDocument();
  });
});

import { fireEvent, render, screen, waitFor } from '@testing-library/svelte';
import { describe, expect, it } from 'vitest';
import type { OpenRequestView } from '../bindings/OpenRequestView';
import { strings } from '../i18n/strings';
import { createMockBackend, type Backend } from '../services/backend';
import { createJourney } from '../state/journey.svelte';
import OpenRequests from './OpenRequests.svelte';

const waiting: OpenRequestView = {
  requestId: 'stp-00000001',
  clientId: 'ledger-app',
  clientName: 'Ledger',
  scope: ['payments.approve'],
  acrValues: [],
  maxAgeS: null,
  createdMs: 1_800_000_000_000,
  expiresMs: 1_800_000_900_000,
  fallbackOffered: false,
};

describe('OpenRequests', () => {
  it("lists a relying app's waiting request and starts it here", async () => {
    const mock = createMockBackend();
    const taken: string[] = [];
    const backend: Backend = {
      ...mock,
      openRequests: async () => [waiting],
      async takeRequest(id) {
        taken.push(id);
        return mock.startStepup({ scope: waiting.scope, requester: 'client:ledger-app' });
      },
    };
    const journey = createJourney(backend);
    await journey.load();
    render(OpenRequests, { props: { journey } });
    expect(await screen.findByText('Ledger')).toBeInTheDocument();
    expect(screen.getByTestId('open-requests')).toHaveTextContent('payments.approve');
    await fireEvent.click(screen.getByRole('button', { name: strings.requests.start }));
    expect(taken).toEqual(['stp-00000001']);
    await waitFor(() => expect(journey.stepup?.requester).toBe('client:ledger-app'));
  });

  it('shows nothing when no request waits', async () => {
    const journey = createJourney(createMockBackend());
    await journey.load();
    render(OpenRequests, { props: { journey } });
    await new Promise((r) => setTimeout(r, 50));
    expect(screen.queryByTestId('open-requests')).not.toBeInTheDocument();
  });
});

import { render, screen } from '@testing-library/svelte';
import { describe, expect, it } from 'vitest';
import { strings } from '../i18n/strings';
import { createMockBackend } from '../services/backend';
import { createAppState } from '../state/app.svelte';
import StartScreen from './StartScreen.svelte';

async function renderWith(options: Parameters<typeof createMockBackend>[0]) {
  const app = createAppState(createMockBackend(options));
  await app.load();
  render(StartScreen, { props: { app } });
  return app;
}

describe('StartScreen', () => {
  it('shows the name, kiosk mode, data dir status and the request placeholder', async () => {
    await renderWith({
      appInfo: {
        kioskMode: true,
        dataDir: '/var/lib/countersign',
        dataDirInitialized: true,
        version: '1.2.3',
      },
    });

    expect(screen.getByRole('heading', { level: 1 })).toHaveTextContent('Countersign');
    expect(screen.getByTestId('mode')).toHaveTextContent(strings.kioskMode);
    expect(screen.getByTestId('data-dir')).toHaveTextContent('/var/lib/countersign');
    expect(screen.getByTestId('data-dir')).toHaveTextContent(strings.dataDirReady);
    expect(screen.getByTestId('version')).toHaveTextContent('1.2.3');
    expect(screen.getByText('Step-up requests will appear here')).toBeInTheDocument();
  });

  it('says when the data dir is not initialised and the window is not a kiosk', async () => {
    await renderWith({ appInfo: { kioskMode: false, dataDirInitialized: false } });

    expect(screen.getByTestId('mode')).toHaveTextContent(strings.windowMode);
    expect(screen.getByTestId('data-dir')).toHaveTextContent(strings.dataDirNotInitialised);
  });

  it('shows a backend error with its code and a touch-sized retry button', async () => {
    await renderWith({ error: { code: 'app.data_dir', message: 'cannot read /x/keys/kiosk.pub' } });

    const alert = screen.getByRole('alert');
    expect(alert).toHaveTextContent(strings.errorTitle);
    expect(alert).toHaveTextContent('app.data_dir');
    expect(alert).toHaveTextContent('cannot read /x/keys/kiosk.pub');
    expect(screen.getByRole('button', { name: strings.retry })).toBeInTheDocument();
    expect(screen.queryByText(strings.placeholder)).not.toBeInTheDocument();
  });
});

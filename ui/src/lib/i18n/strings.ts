// Every user-visible string of the UI, in one place (English for now).

export const strings = {
  appName: 'Countersign',
  tagline: 'Biometric step-up for sensitive actions',
  loading: 'Starting…',
  modeLabel: 'Mode',
  kioskMode: 'Kiosk',
  windowMode: 'Window',
  dataDirLabel: 'Data directory',
  dataDirReady: 'Initialised',
  dataDirNotInitialised: 'Not initialised — run “countersign init” first',
  versionLabel: 'Version',
  placeholder: 'Step-up requests will appear here',
  errorTitle: 'Countersign could not start',
  retry: 'Try again',
} as const;

export type Strings = typeof strings;

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
  errorCode: 'Code',

  clock: {
    behindTitle: 'This kiosk’s clock is wrong',
    behind: (behind: string) =>
      `The clock is ${behind} behind the last recorded event. Countersign records nothing and accepts no step-up until the clock is right. Call IT.`,
    lastRefusal: (seq: number) => `Refusal recorded in the evidence log (event ${seq}).`,
  },

  anchor: {
    title: 'This kiosk’s evidence was rolled back or forked',
    body: 'Its ledger is behind, or off, the record kept outside it or in the evidence bucket. Countersign signs nothing until an admin has investigated and restored the kiosk from the evidence bucket or re-seeded the anchor (countersign anchor status). Call IT.',
  },

  nav: {
    label: 'Screens',
    operator: 'Operator',
    supervisor: 'Supervisor',
    reviewer: 'Reviewer',
    admin: 'Admin',
  },

  operator: {
    title: 'Step-up',
    demoRequestTitle: 'Demo request (stands in for a relying application)',
    requester: 'Requesting application',
    scopes: 'Scopes asked for',
    start: 'Start step-up',
    asks: (requester: string) => `${requester} asks you to confirm who you are for:`,
    whoAreYou: 'Who are you?',
    identifiedAs: (name: string) => `Identified: ${name}`,
    verifyMe: 'Verify me',
    verifyHint: 'Look at the camera, then press “Verify me”.',
    attempts: (n: number) => `Attempts in this step-up: ${n}`,
    failures: (n: number, limit: number) => `Failed matches in a row: ${n} of ${limit}`,
    wait: (s: number) => `Wait ${s} s before the next attempt`,
    success: 'Verified. You may continue.',
    successScore: (score: string) => `Match score ${score}`,
    noMatch: 'Not recognised. Try again.',
    qualityFailed: 'The picture was not good enough. Try again.',
    fallbackTitle: 'Your face could not be verified',
    fallbackBody: 'A supervisor can grant a time-limited override. Why:',
    askSupervisor: 'Ask a supervisor',
    retryPrimary: 'You may also retry once any wait is over.',
    granted: (until: string) => `Override granted until ${until}`,
    cancelled: 'This step-up was cancelled.',
    cancel: 'Cancel',
    cancelReason: 'cancelled at the kiosk',
    newRequest: 'New request',
    disabled: 'Face verification is disabled for you until re-enrollment.',
    attemptDetail: (detail: string) => `Why: ${detail}`,
  },

  finger: {
    readerAlt: 'Fingerprint reader',
    fallbackTitle: 'Your fingerprint could not be verified',
    disabled: 'Fingerprint verification is disabled for you until re-enrollment.',
    virtualBadge: 'VIRTUAL — not a live finger',
    virtualNote: 'libfprint’s virtual reader is fed with demo impressions (image files), and the evidence says so.',
    scene: 'Demo finger',
    sceneName: (name: string) =>
      ({
        'otto-right-index': 'Otto’s right index finger (genuine)',
        'someone-else': 'Someone else’s finger (impostor)',
        'poor-scan': 'A smudged scan (reader asks to scan again)',
        'reader-removed': 'Reader unplugged',
      })[name] ?? name,
    hint: 'Press “Verify me”, then put your finger on the reader.',
    phase: (phase: string) =>
      ({
        opening: 'Starting the fingerprint reader…',
        awaiting_finger: 'Place your finger on the reader',
        scanning: 'Scanning — keep your finger still',
        retry: 'Scan again',
      })[phase] ?? '',
    matched: 'Fingerprint matched.',
    notMatched: 'Fingerprint not matched. Try again.',
    retry: (reason: string) => `Scan again: ${reason}`,
    unavailable: 'Reader unavailable',
    decision: 'The reader decides match or no match (no score).',
    enrollTitle: 'Enroll a finger',
    enrollNote: 'Impressions come from the fingerprint reader; a supervisor witnesses with two factors.',
    whichFinger: 'Finger',
    fingerName: (f: string) => f.replace(/-/g, ' '),
    enroll: 'Enroll from the reader',
    enrolled: (who: string, finger: string, n: number, witness: string) =>
      `${who}: ${finger} enrolled from ${n} impressions, witnessed by ${witness}`,
    readerTitle: 'Fingerprint reader',
    virtualSource: (dir: string) => `libfprint virtual_image reader fed from ${dir}`,
    realSource: (id: string) => `Reader ${id}`,
    enrolledPeople: 'Operators with a finger enrolled',
    none: 'none',
  },

  camera: {
    previewAlt: 'Live picture from the camera',
    noPicture: 'No picture yet',
    starting: 'Starting the camera…',
    unavailable: 'Camera unavailable.',
    replayBadge: 'REPLAY — not a live camera',
    replayNote: 'Frames come from image files (a demo or test replay), and the evidence says so.',
    scene: 'Replay scene',
    sceneName: (name: string) =>
      ({
        'genuine-olga': 'Olga (genuine)',
        impostor: 'Someone else (impostor)',
        'still-photo': 'A still photo (presentation attack)',
        'no-face': 'Nobody in front of the camera',
        unplugged: 'Camera unplugged',
      })[name] ?? name,
  },

  dashboard: {
    title: 'Dashboard',
    summary: (total: number, reviewed: number, pending: number) =>
      `${total} overrides: ${reviewed} reviewed, ${pending} waiting for review`,
    reviewTime: (median: string, max: string) => `Time from the end of a grant to its review: median ${median}, longest ${max}`,
    perDay: 'Overrides per day (last 14 days, UTC)',
    byTrigger: 'By trigger',
    bySupervisor: 'By supervisor',
    recurringPairs: 'Recurring operator ← supervisor pairs',
    noRecurring: 'No pair has overridden more than once.',
  },

  requests: {
    title: 'Waiting for you',
    asksFor: 'asks for a step-up:',
    since: (t: string) => `since ${t}`,
    waitingSupervisor: 'waiting for a supervisor',
    start: 'Start this step-up',
  },

  idle: {
    cancelReason: 'idle timeout at the kiosk: the screen was wiped',
  },

  hints: {
    ok: 'Good. Keep still and press “Verify me”.',
    no_face: 'No face found: look at the camera.',
    multiple_faces: 'More than one face: only you in front of the camera.',
    face_too_small: 'Come closer to the camera.',
    blurry: 'Hold still: the picture is blurred.',
    too_dark: 'Too dark: face the light.',
    too_bright: 'Too bright: move out of direct light.',
    pose_yaw: 'Look straight at the camera.',
    pose_pitch: 'Keep your head level.',
    pose_roll: 'Keep your head upright.',
    models_missing: 'Face models are missing on this kiosk: run scripts/setup.sh.',
  },

  triggers: {
    failure_limit: 'Too many failed matches in a row',
    device_unavailable: 'The camera is unavailable',
    capture_quality: 'Repeated captures failed the quality checks',
  },

  outcomes: {
    matched: 'Match',
    no_match: 'No match',
    quality_failed: 'Quality check failed',
    unavailable: 'Device unavailable',
    disabled: 'Biometric disabled',
  },

  supervisor: {
    title: 'Supervisor override',
    none: 'No step-up is waiting for a supervisor. When an operator’s verification fails, it appears here.',
    contextTitle: 'What happened',
    operator: 'Operator',
    requester: 'Asked by',
    scope: 'Scope asked for',
    trigger: 'Why the fallback was offered',
    attemptsTitle: 'Attempts',
    attemptNo: '#',
    outcome: 'Outcome',
    score: 'Score',
    threshold: 'Threshold',
    source: 'Source',
    time: 'Time',
    noAttempts: 'No match attempts were recorded (see the reason above).',
    authTitle: 'Sign in with two factors',
    who: 'Supervisor',
    password: 'Password',
    otp: 'Authenticator code',
    signIn: 'Sign in',
    fillDemo: 'Fill demo credentials',
    demoNote: 'Demo data directory: the demo people’s credentials are published.',
    signedIn: (who: string) => `Signed in as ${who}`,
    grantTitle: 'Grant an override',
    duration: 'Duration (minutes)',
    durationHint: (def: number, cap: number) => `Default ${def} min, policy cap ${cap} min`,
    grantScope: 'Scope granted (a subset of the request)',
    notGrantable: 'not grantable by a supervisor',
    reason: 'Reason code',
    chooseReason: 'Choose a reason',
    note: 'What happened (note)',
    ticket: 'Ticket (optional)',
    control: 'Compensating control while the override lasts',
    confirm: 'Grant override',
    activeTitle: 'Override in force',
    expiresIn: 'Expires in',
    expiredAt: 'Ended',
    status: 'Status',
    statusNames: {
      active: 'Active',
      used: 'Used',
      expired: 'Expired',
      revoked: 'Revoked',
    },
    revokeTitle: 'Revoke now',
    revokeReason: 'Why revoke',
    revoke: 'Revoke override',
    revokeNeedsFreshCode: 'Enter a new authenticator code: a code is accepted once.',
  },

  reviewer: {
    title: 'Review',
    casesTitle: 'Overrides awaiting review',
    noCases: 'No override is waiting for review.',
    overdue: 'Overdue',
    due: (when: string) => `Review due ${when}`,
    live: 'Still in force: review once it has ended',
    select: 'Open',
    caseTitle: (id: string) => `Override ${id}`,
    granted: 'Granted',
    expires: 'Ends',
    supervisor: 'Supervisor',
    reasonCode: 'Reason',
    note: 'Note',
    ticket: 'Ticket',
    control: 'Compensating control',
    disposition: 'Disposition',
    dispositions: {
      justified: 'Justified',
      unjustified: 'Unjustified',
      needs_follow_up: 'Needs follow-up',
    },
    notes: 'Review notes',
    reviewer: 'Reviewer',
    submit: 'Record review',
    reviewed: (who: string, d: string) => `Reviewed by ${who}: ${d}`,
    verifyTitle: 'Evidence chain',
    verify: 'Verify chain',
    verifiedOk: (n: number, at: string) =>
      `Verified at ${at}, up to event ${n}: ${n} events, chain and signatures intact`,
    verifiedBad: (p: string) => `VERIFICATION FAILED: ${p}`,
    notVerified: 'Not verified in this session yet',
    exportJsonl: 'Export JSON lines',
    exportOcsf: 'Export OCSF',
    exported: (n: number, path: string) => `Exported ${n} events to ${path}`,
    exportTitle: 'Export the evidence',
    viewsLabel: 'Reviewer views',
    views: { queue: 'Review queue', log: 'Evidence log', fleet: 'Fleet', overview: 'Overview and export' },
    overdueCount: (n: number) => `${n} overdue`,
    pickCase: 'Open a case from the queue to see its facts and record a review.',
  },

  log: {
    body: "The event's body (JSON)",
    title: 'Evidence log',
    kind: 'Event kind',
    anyKind: 'Any kind',
    person: 'Person',
    outcome: 'Outcome',
    caseId: 'Case or session id',
    apply: 'Apply filters',
    loadMore: 'Load more',
    end: 'End of log',
    rows: (n: number) => `${n} events loaded`,
    seq: 'Seq',
    time: 'Time',
    detailTitle: (seq: number) => `Event ${seq}`,
    detailNone: 'No event chosen',
    detailHint: 'Choose a row (click, or the arrow keys in the table) to see its evidence here.',
    none: 'No events match.',
    filtersTitle: 'Filters',
    supervisor: 'Supervisor',
    trigger: 'Trigger',
    anyTrigger: 'Any trigger',
    from: 'From (local time)',
    to: 'Until (local time)',
    reset: 'Clear filters',
  },

  console: {
    title: (role: string) => (role === 'admin' ? 'Admin sign-in' : 'Reviewer sign-in'),
    note: (role: string) =>
      role === 'admin'
        ? 'Administration needs an admin signed in with two factors. The session ends when you sign out or after the policy’s idle time.'
        : 'The evidence log, the reviews and the sealed samples need a reviewer signed in with two factors. Every look at a sample is recorded.',
    person: 'Your id',
    signIn: 'Sign in',
    signOut: 'Sign out',
    signedIn: (who: string, role: string, idle: number) =>
      `Signed in as ${who} (${role}); the session ends after ${idle} minutes without activity.`,
  },

  samples: {
    count: (n: number) => (n === 1 ? '1 sealed sample' : `${n} sealed samples`),
    needSignIn: 'Sign in as a reviewer to see them.',
    show: (path: string) => `Show sample (${path})`,
    hide: 'Hide sample',
    alt: (who: string) => `Captured sample of ${who}`,
    caption: (sha: string, when: string) => `Sealed ${when}, SHA-256 ${sha.slice(0, 16)}...; this view is recorded.`,
    supervisorTitle: 'Captured images of the attempts',
    supervisorNote: 'For you to judge before deciding; the view is recorded.',
    showAttempt: (n: number) => `attempt ${n}`,
  },

  sync: {
    title: 'Evidence sync',
    note: 'Evidence is safe once it is in the write-once bucket; until then it is queued in the ledger.',
    stateAlert: (age: string, limit: string) =>
      `ALERT: the oldest evidence not uploaded is ${age} old, past the policy's limit of ${limit}`,
    stateNotConfigured: 'Not configured: no sync.toml, so no evidence leaves this kiosk',
    stateUpToDate: 'Up to date: all evidence is in the bucket',
    stateQueued: (n: number) => `Uploading: ${n} objects queued, within the policy's limit`,
    stateFailing: 'Cannot upload right now: retrying with a growing wait',
    target: 'Bucket',
    targetValue: (bucket: string, endpoint: string) => `${bucket} at ${endpoint}`,
    uploader: 'Uploader in this app',
    uploaders: {
      running: 'Running',
      not_configured: 'Not running (no sync.toml)',
      waiting: 'Waiting for the data directory',
      failed: 'Could not start',
      stopped: 'Stopped',
    },
    queued: 'Queued',
    queuedValue: (events: number, blobs: number, checkpoints: number) =>
      `${events} events, ${blobs} sealed samples, ${checkpoints} checkpoints`,
    inFlight: 'In flight',
    synced: 'Events in the bucket',
    lastSuccess: 'Last complete upload',
    never: 'Never',
    oldest: 'Oldest unsynced event',
    oldestValue: (seq: number, age: string) => `Event ${seq}, ${age} old`,
    none: 'None',
    lastError: 'Last error',
    limit: 'Alert limit (policy)',
    purged: (n: number) => `${n} sealed samples were purged by retention before they could be uploaded`,
    ago: (age: string) => `${age} ago`,
    refresh: 'Check again',
    checked: (time: string) => `Checked ${time}; refreshed every 5 seconds`,
  },

  fleet: {
    title: 'Fleet',
    note: 'Every kiosk in the central bucket, verified from its objects alone, with read-only keys.',
    notConfigured: (path: string) =>
      `No fleet config: put the bucket and read-only keys in ${path} (or name a file in COUNTERSIGN_FLEET_CONFIG).`,
    notRead: 'The bucket has not been read in this session yet.',
    open: 'Read and verify the bucket',
    reopen: 'Read again',
    reading: 'Reading the bucket…',
    summary: (kiosks: number, events: number, bucket: string, time: string) =>
      `${kiosks} kiosks, ${events} events in ${bucket}, read ${time}`,
    allOk: 'Every kiosk verified: chains, signatures and checkpoints intact',
    someBad: (n: number) => `VERIFICATION FAILED for ${n} kiosk(s): do not trust their evidence past the verified point`,
    kiosk: 'Kiosk',
    verification: 'Verification',
    verified: 'Verified',
    failed: (n: number) => `FAILED (${n} problems)`,
    events: 'Events',
    verifiedThrough: 'Verified through',
    checkpoints: 'Checkpoints',
    blobs: 'Sealed samples',
    problemsOf: (kiosk: string) => `Problems found in ${kiosk}`,
    moreProblems: (n: number) => `and ${n} more (countersign fleet verify lists them all)`,
    logTitle: 'Events across kiosks',
    anyKiosk: 'All kiosks',
    pendingReview: 'Only overrides awaiting review',
    exportJsonl: 'Export JSON lines',
    exportOcsf: 'Export OCSF',
    exported: (n: number, path: string) => `Exported ${n} events to ${path}`,
    detailTitle: (kiosk: string, seq: number) => `${kiosk}, event ${seq}`,
  },

  admin: {
    devicesTitle: 'Capture device',
    source: 'Source',
    replaySource: (dir: string) => `Replay of image files in ${dir}`,
    cameraSource: (id: string) => `Camera ${id}`,
    device: 'Device',
    resolution: 'Resolution',
    health: 'Health',
    available: 'Available',
    unavailable: 'Unavailable',
    refresh: 'Check again',
    enrollTitle: 'Enroll a face',
    enrollNote: 'Captures come from the capture device above; a supervisor witnesses with two factors.',
    enrollPerson: 'Operator',
    witness: 'Witness (supervisor)',
    enroll: 'Enroll from the camera',
    enrolled: (who: string, n: number, witness: string) => `${who} enrolled from ${n} captures, witnessed by ${witness}`,
    title: 'People and policy',
    peopleTitle: 'People and roles',
    id: 'Id',
    name: 'Name',
    roles: 'Roles',
    credentials: 'Two factors',
    state: 'State',
    yes: 'Set',
    no: 'None',
    locked: 'Locked',
    ok: 'OK',
    policyTitle: 'Policy in force',
    scopes: 'Scopes',
    reasons: 'Reason codes',
    caps: (def: number, cap: number) => `Overrides: default ${def} min, cap ${cap} min`,
    attempts: (limit: number, wait: number) => `Fallback after ${limit} failed matches; wait from ${wait} s, doubling`,
    signedNote: 'Every change here is signed with your password and a fresh authenticator code, and recorded in the ledger.',
    act: {
      factorsTitle: 'Your two factors for this change',
      factorsNote: 'Each change needs your password and a new code (a code signs one change only).',
      fillDemo: 'Fill demo factors',
      addTitle: 'Add a person',
      addId: 'Id (lowercase letters, digits, - or _)',
      addName: 'Display name',
      addSubmit: 'Add person',
      added: (id: string) => `${id} added`,
      edit: 'Manage',
      editTitle: (name: string) => `Manage ${name}`,
      saveRoles: 'Save roles',
      rolesSaved: (id: string) => `Roles of ${id} saved`,
      unlock: 'Unlock',
      unlocked: (id: string) => `${id} unlocked`,
      newPassword: 'New password for this person',
      issue: 'Issue password and authenticator',
      close: 'Close',
    },
    issued: {
      title: (id: string) => `Authenticator for ${id}: shown once`,
      note: 'Scan the code with an authenticator app, or type the secret. It is not stored in this window and cannot be shown again; issuing again makes a new one.',
      secret: 'Secret (base32)',
      qrAlt: (id: string) => `QR code of the authenticator secret for ${id}`,
      done: 'Done: hide the secret',
    },
    registry: {
      clientsTitle: 'Relying applications (clients)',
      noClients: 'No client is registered.',
      scopes: 'Scopes',
      auth: 'Authenticates with',
      addClient: 'Register a client',
      clientId: 'Client id',
      clientName: 'Name',
      clientSecret: 'Shared secret (at least 16 characters)',
      clientKey: 'or an Ed25519 public key (64 hex characters or PEM)',
      clientAdded: (id: string) => `Client ${id} registered. Give its relying application this kiosk pin:`,
      principalsTitle: 'Break-glass principals',
      noPrincipals: 'No principal is registered.',
      addPrincipal: 'Register a principal',
      principalId: 'Principal id',
      kind: 'Kind',
      kinds: { service_account: 'Service account', api_key: 'API key', agent: 'Agent' } as Record<string, string>,
      owner: 'Owner (a person)',
      clients: 'Clients that may ask for it',
      description: 'Description',
      principalAdded: (id: string) => `Principal ${id} registered`,
    },
    policy: {
      title: 'Change the policy',
      current: (sha: string) => `Policy in force (SHA-256 ${sha.slice(0, 12)}…)`,
      proposed: 'Proposed policy (TOML)',
      diff: 'Show the differences',
      unchanged: 'No differences.',
      invalid: (why: string) => `The engine refuses this policy: ${why}`,
      apply: 'Apply the policy',
      applied: (sha: string) => `Policy ${sha.slice(0, 12)}… in force`,
      diffLabel: 'Differences: removed lines start with −, added lines with +',
    },
  },
} as const;

export type Strings = typeof strings;

/** The label of a code, or the code itself when there is none. */
export function lookup(map: Readonly<Record<string, string>>, key: string): string {
  return map[key] ?? key;
}

/** Fallback reason for people, by trigger code. */
/** Words for a preview frame's quality hint (`null`: the frame would pass). */
export function hintText(hint: string | null): string {
  return lookup(strings.hints, hint ?? 'ok');
}

export function triggerText(trigger: string | null): string {
  if (!trigger) return '';
  return lookup(strings.triggers, trigger);
}

export function formatTime(ms: number): string {
  return new Date(ms).toLocaleString('en-GB', { hour12: false });
}

export function formatClock(ms: number): string {
  return new Date(ms).toLocaleTimeString('en-GB', { hour12: false });
}

/** "mm:ss" (or "h:mm:ss") for a countdown. */
export function formatRemaining(ms: number): string {
  const total = Math.max(0, Math.ceil(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const mm = String(m).padStart(2, '0');
  const ss = String(s).padStart(2, '0');
  return h > 0 ? `${h}:${mm}:${ss}` : `${mm}:${ss}`;
}

/** "2 h 5 min", "3 min 10 s", "12 s" for an age or a limit. */
export function formatAge(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s >= 86_400) return `${Math.floor(s / 86_400)} d ${Math.floor((s % 86_400) / 3600)} h`;
  if (s >= 3600) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
  if (s >= 60) return `${Math.floor(s / 60)} min${s % 60 ? ` ${s % 60} s` : ''}`;
  return `${s} s`;
}

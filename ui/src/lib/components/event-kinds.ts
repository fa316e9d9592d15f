/** The event kinds the log filters offer (the local log and the fleet view). */
export const EVENT_KINDS = [
  'stepup.requested',
  'stepup.identified',
  'stepup.intent',
  'match.attempt',
  'capture.quality_failed',
  'capture.device_unavailable',
  'stepup.succeeded',
  'stepup.refused',
  'fallback.triggered',
  'supervisor.auth',
  'override.granted',
  'override.expired',
  'override.revoked',
  'override.reviewed',
  'override.reconciled',
  'sample.viewed',
] as const;

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

/**
 * The outcomes the engine indexes events by (`Ev::outcome` in
 * crates/engine/src/evidence.rs), offered as suggestions: the filter takes
 * any text, so a value added in the engine can be searched before it is
 * listed here.
 */
export const EVENT_OUTCOMES = [
  'matched',
  'no_match',
  'quality_failed',
  'unavailable',
  'disabled',
  'fallback_offered',
  'success',
  'failed',
  'refused',
  'denied',
  'cancelled',
  'requested',
  'granted',
  'issued',
  'signed_in',
  'enrolled',
  'added',
  'suppressed',
];

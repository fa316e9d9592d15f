// The mock backend's fixed data: the demo policy, people and factors (the
// same as `countersign init --demo`), and the replay camera's scenes.

import type { DemoCredential } from '../bindings/DemoCredential';
import type { Person } from '../bindings/Person';
import type { PolicyView } from '../bindings/PolicyView';

export const mockPolicy: PolicyView = {
  scopes: [
    { name: 'payments.approve', description: 'Approve an outgoing payment', supervisorMayGrant: true },
    { name: 'records.export', description: 'Export customer records', supervisorMayGrant: true },
    { name: 'admin.keys', description: 'Rotate kiosk or application keys', supervisorMayGrant: false },
  ],
  reasonCodes: [
    { code: 'SENSOR_FAULT', description: 'The capture device failed or was unavailable' },
    { code: 'ENROLLMENT_DRIFT', description: "The operator's enrolled template no longer matches" },
    { code: 'ENVIRONMENT', description: 'Lighting or placement prevented a good capture' },
    { code: 'URGENT_BUSINESS', description: 'Time-critical action; primary control to be restored after' },
  ],
  defaultDurationMinutes: 15,
  maxDurationMinutes: 60,
  reviewDeadlineHours: 72,
  consecutiveFailureLimit: 5,
  throttleSeconds: 30,
  faceThreshold: 0.48,
  triggers: ['failure_limit', 'device_unavailable', 'capture_quality'],
  demo: true,
};

export const people: Person[] = [
  { id: 'olga', displayName: 'Olga Operator', roles: ['operator'], hasCredentials: false, failedAuths: 0, locked: false },
  { id: 'otto', displayName: 'Otto Operator', roles: ['operator'], hasCredentials: false, failedAuths: 0, locked: false },
  { id: 'sam', displayName: 'Sam Supervisor', roles: ['supervisor'], hasCredentials: true, failedAuths: 0, locked: false },
  { id: 'sue', displayName: 'Sue Supervisor', roles: ['operator', 'supervisor'], hasCredentials: true, failedAuths: 0, locked: false },
  { id: 'rita', displayName: 'Rita Reviewer', roles: ['reviewer'], hasCredentials: true, failedAuths: 0, locked: false },
  { id: 'ada', displayName: 'Ada Admin', roles: ['admin'], hasCredentials: true, failedAuths: 0, locked: false },
];

/** The mock's demo factors: the demo secret and a fixed code per person. */
export const mockCredentials: DemoCredential[] = [
  { id: 'sam', secret: 'sam-demo-pass', otp: '111111' },
  { id: 'sue', secret: 'sue-demo-pass', otp: '222222' },
  { id: 'rita', secret: 'rita-demo-pass', otp: '333333' },
  { id: 'ada', secret: 'ada-demo-pass', otp: '444444' },
];

export const QUALITY_LIMIT = 3;

/**
 * The mock's replay camera: the same scene names as the demo data dir
 * (assets/demo/faces/scenes) and what each does to an attempt. `unplugged`
 * is a mock-only scene standing for a replay folder that disappeared.
 */
export const SCENES: Record<string, { label: string; hint: string | null }> = {
  'genuine-olga': { label: 'Olga', hint: null },
  impostor: { label: 'someone else', hint: null },
  'still-photo': { label: 'a still photo', hint: null },
  'no-face': { label: 'an empty room', hint: 'no_face' },
};

export function previewSvg(label: string): string {
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="480" height="360" viewBox="0 0 480 360"><rect width="480" height="360" fill="#2b2f36"/><circle cx="240" cy="150" r="70" fill="#c9a27e"/><rect x="150" y="230" width="180" height="130" rx="60" fill="#4a5568"/><text x="240" y="345" font-family="sans-serif" font-size="20" fill="#fff" text-anchor="middle">${label}</text></svg>`;
  return `data:image/svg+xml;base64,${btoa(svg)}`;
}

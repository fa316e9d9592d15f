// A fixture of the admin's acts for component tests and the plain browser
// (services/backend.ts mixes it into the mock backend). It checks no rule:
// it answers each act with what the Rust side would show, so the screens
// can be rendered. The rules (the console session, the admin's two factors,
// ids and roles, the policy's validation) are tested through the real
// service (src-tauri/tests/admin.rs).

import type { AdminBackend } from './backend';
import type { DiffLine } from '../bindings/DiffLine';
import type { ClientInfo } from '../bindings/ClientInfo';
import type { Person } from '../bindings/Person';
import type { PrincipalInfo } from '../bindings/PrincipalInfo';

/** A fixed demo secret; the real one is 20 random bytes from the engine. */
export const MOCK_TOTP_SECRET = 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP';

export const MOCK_POLICY_TOML = `[attempts]
consecutive_failure_limit = 5
throttle_seconds = 30

[overrides]
default_duration_minutes = 15
max_duration_minutes = 60
`;

const QR_SVG =
  'data:image/svg+xml;base64,' +
  btoa(
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 4 4"><rect width="4" height="4" fill="#fff"/><rect width="2" height="2" fill="#000"/></svg>',
  );

function person(id: string, displayName: string, roles: string[], locked = false): Person {
  return { id, displayName, roles, hasCredentials: false, failedAuths: 0, locked };
}

/** Display only: lines of `a` not in `b` removed, lines of `b` not in `a` added. */
function naiveDiff(a: string, b: string): DiffLine[] {
  const left = a.split('\n');
  const right = b.split('\n');
  return [
    ...left.map((text) => ({ op: right.includes(text) ? 'same' : 'removed', text })),
    ...right.filter((t) => !left.includes(t)).map((text) => ({ op: 'added', text })),
  ];
}

export function createAdminMock(): AdminBackend {
  let policy = MOCK_POLICY_TOML;
  const clients: ClientInfo[] = [];
  const principals: PrincipalInfo[] = [];
  return {
    async addPerson(r) {
      return person(r.id, r.displayName, r.roles);
    },
    async setRoles(r) {
      return person(r.id, r.id, r.roles);
    },
    async unlockPerson(r) {
      return person(r.id, r.id, ['reviewer']);
    },
    async issueCredentials(r) {
      return {
        person: r.id,
        totpSecretBase32: MOCK_TOTP_SECRET,
        otpauthUri: `otpauth://totp/Countersign:${r.id}?secret=${MOCK_TOTP_SECRET}&issuer=Countersign`,
        qrSvgDataUrl: QR_SVG,
      };
    },
    async policySource() {
      return { toml: policy, sha256: 'a'.repeat(64) };
    },
    async policyDiff(proposed) {
      const lines = naiveDiff(policy, proposed);
      return { lines, changed: lines.some((l) => l.op !== 'same'), error: null };
    },
    async applyPolicy(r) {
      policy = r.toml;
      return { toml: policy, sha256: 'b'.repeat(64) };
    },
    async listClients() {
      return structuredClone(clients);
    },
    async addClient(r) {
      const client: ClientInfo = {
        id: r.id,
        name: r.name,
        scopes: r.scopes,
        authMethod: r.secret ? 'client_secret_basic' : 'signed_request',
        createdMs: 0,
      };
      clients.push(client);
      const pinJson = JSON.stringify({ issuer: 'urn:countersign:kiosk:mock', key_thumbprint: 'mock', tls_cert_sha256: 'c'.repeat(64) }, null, 2);
      return { client, pinJson };
    },
    async listPrincipals() {
      return structuredClone(principals);
    },
    async addPrincipal(r) {
      const p: PrincipalInfo = {
        id: r.id,
        kind: r.kind,
        owner: r.owner,
        scopes: r.scopes,
        clients: r.clients,
        description: r.description,
      };
      principals.push(p);
      return p;
    },
  };
}

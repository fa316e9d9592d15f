// The mock of evidence sync and the fleet view (services/backend.ts mixes it
// into the mock backend): this kiosk's sync status in three cases (uploading
// normally, past the policy's alert limit, not configured) and a bucket
// holding two kiosks' evidence, verified or with one altered object. The
// rules are the Rust side's: events ordered by (time, kiosk, seq), keyset
// paging, the local log's filters, export counts.

import type { ExportResult } from '../bindings/ExportResult';
import type { FleetCursorView, FleetQuery } from '../bindings/FleetQuery';
import type { FleetEventPage, FleetEventRow } from '../bindings/FleetEventPage';
import type { FleetExportRequest } from '../bindings/FleetExportRequest';
import type { FleetKioskView, FleetOverview } from '../bindings/FleetOverview';
import type { SyncStatusView } from '../bindings/SyncStatusView';
import type { SyncBackend } from './backend';
import { BackendError } from './errors';

export interface SyncMockOptions {
  now?: () => number;
  /** This kiosk's sync: uploading normally (default), `alert`, `unconfigured`. */
  status?: 'alert' | 'unconfigured';
  /** The bucket: two verified kiosks (default), `tampered` (one altered object), `unconfigured`. */
  fleet?: 'tampered' | 'unconfigured';
  /** Events per kiosk in the mock bucket (default 300). */
  eventsPerKiosk?: number;
}

export const MOCK_KIOSKS = ['kiosk-lobby', 'kiosk-vault'];
const HOUR = 3_600_000;

export function mockSyncStatus(kind: SyncMockOptions['status'], now: number): SyncStatusView {
  const base: SyncStatusView = {
    kiosk: 'kiosk-lobby',
    configured: true,
    endpoint: 'https://s3.example.internal',
    bucket: 'countersign-evidence',
    queuedEvents: 3,
    queuedBlobs: 1,
    queuedCheckpoints: 0,
    syncedEvents: 1_204,
    blobsPurgedUnsynced: 0,
    inFlight: 2,
    lastAttemptMs: now - 2_000,
    lastSuccessMs: now - 14_000,
    lastError: null,
    lastErrorMs: null,
    oldestUnsyncedSeq: 1_205,
    oldestUnsyncedAgeMs: 4_000,
    alertAfterMs: HOUR,
    alert: false,
    uploader: 'running',
    uploaderError: null,
    checkedAtMs: now,
  };
  if (kind === 'alert') {
    return {
      ...base,
      queuedEvents: 212,
      queuedBlobs: 9,
      queuedCheckpoints: 1,
      inFlight: 0,
      lastSuccessMs: now - 2 * HOUR - 5 * 60_000,
      lastError: 'remote store: error sending request for url (https://s3.example.internal/countersign-evidence/kiosk-lobby/events/000000001205-9f2c.json): connection refused',
      lastErrorMs: now - 20_000,
      oldestUnsyncedAgeMs: 2 * HOUR + 4 * 60_000,
      alert: true,
    };
  }
  if (kind === 'unconfigured') {
    return {
      ...base,
      configured: false,
      endpoint: null,
      bucket: null,
      queuedEvents: 1_207,
      queuedBlobs: 10,
      queuedCheckpoints: 4,
      syncedEvents: 0,
      inFlight: 0,
      lastAttemptMs: null,
      lastSuccessMs: null,
      oldestUnsyncedSeq: 1,
      oldestUnsyncedAgeMs: 30 * 60_000,
      uploader: 'not_configured',
    };
  }
  return base;
}

const PEOPLE = ['olga', 'otto'];
const SUPERVISORS = ['sam', 'sue'];

/** A kiosk's evidence in the mock bucket: step-ups, some with an override. */
function kioskEvents(kiosk: string, n: number, start: number, offset: number): FleetEventRow[] {
  const rows: FleetEventRow[] = [];
  let seq = 0;
  let i = 0;
  const push = (kind: string, extra: Partial<FleetEventRow> = {}) => {
    seq += 1;
    rows.push({
      kiosk,
      seq,
      tsMs: start + seq * 60_000 + offset,
      kind,
      person: null,
      supervisor: null,
      outcome: null,
      trigger: null,
      caseId: null,
      body: { note: 'mock evidence' },
      hashHex: `${kiosk.length.toString(16)}${seq.toString(16).padStart(8, '0')}`.padEnd(64, 'a'),
      ...extra,
    });
  };
  while (seq < n) {
    const person = PEOPLE[i % PEOPLE.length];
    const session = `stp-${kiosk}-${i}`;
    push('stepup.requested', { person, caseId: session });
    if (i % 4 === 3) {
      const supervisor = SUPERVISORS[i % SUPERVISORS.length];
      const grant = `ovr-${kiosk}-${i}`;
      push('match.attempt', { person, outcome: 'no_match', caseId: session });
      push('fallback.triggered', { person, trigger: 'failure_limit', caseId: session });
      push('supervisor.auth', { person: supervisor, supervisor, outcome: 'success' });
      push('override.granted', { person, supervisor, trigger: 'failure_limit', caseId: grant });
      if (i % 8 === 3) push('override.reviewed', { person, supervisor, caseId: grant, outcome: 'justified' });
    } else {
      push('match.attempt', { person, outcome: 'success', caseId: session });
      push('stepup.succeeded', { person, outcome: 'success', caseId: session });
    }
    i += 1;
  }
  return rows.slice(0, n);
}

function key(e: { tsMs: number; kiosk: string; seq: number }): [number, string, number] {
  return [e.tsMs, e.kiosk, e.seq];
}

function compare(a: { tsMs: number; kiosk: string; seq: number }, b: { tsMs: number; kiosk: string; seq: number }): number {
  const [x, y] = [key(a), key(b)];
  if (x[0] !== y[0]) return x[0] - y[0];
  if (x[1] !== y[1]) return x[1] < y[1] ? -1 : 1;
  return x[2] - y[2];
}

function matches(q: FleetQuery, e: FleetEventRow, reviewed: Set<string>): boolean {
  const eq = (want: string | null, have: string | null) => !want || want === have;
  return (
    eq(q.kiosk, e.kiosk) &&
    (q.fromMs === null || e.tsMs >= q.fromMs) &&
    (q.toMs === null || e.tsMs < q.toMs) &&
    (q.kinds.length === 0 || q.kinds.includes(e.kind)) &&
    eq(q.person, e.person) &&
    eq(q.supervisor, e.supervisor) &&
    eq(q.outcome, e.outcome) &&
    eq(q.trigger, e.trigger) &&
    eq(q.caseId, e.caseId) &&
    (!q.pendingReview || (e.kind === 'override.granted' && !reviewed.has(`${e.kiosk}/${e.caseId}`)))
  );
}

export function createSyncMock(options: SyncMockOptions = {}): SyncBackend {
  const now = options.now ?? (() => Date.now());
  const perKiosk = options.eventsPerKiosk ?? 300;
  const path = '/tmp/countersign-mock/fleet.toml';
  let loaded: { overview: FleetOverview; events: FleetEventRow[]; reviewed: Set<string> } | null = null;

  function notRead(): FleetOverview {
    return {
      configured: options.fleet !== 'unconfigured',
      configPath: path,
      endpoint: null,
      bucket: null,
      loadedAtMs: null,
      kiosks: [],
      allOk: false,
      events: 0,
    };
  }

  function read(): FleetOverview {
    if (options.fleet === 'unconfigured') return notRead();
    const start = now() - 3 * 24 * HOUR;
    const events = MOCK_KIOSKS.flatMap((k, i) => kioskEvents(k, perKiosk, start, i * 17_000)).sort(compare);
    const kiosks: FleetKioskView[] = MOCK_KIOSKS.map((k) => {
      const n = events.filter((e) => e.kiosk === k).length;
      const bad = options.fleet === 'tampered' && k === 'kiosk-vault';
      return {
        kiosk: k,
        ok: !bad,
        publicKey: `${k === 'kiosk-lobby' ? '3f' : '8c'}${'0'.repeat(62)}`,
        events: n,
        verifiedThrough: bad ? 10 : n,
        headHash: events.filter((e) => e.kiosk === k).at(-1)?.hashHex ?? null,
        checkpoints: Math.floor(n / 256),
        blobs: Math.floor(n / 10),
        problemCount: bad ? 1 : 0,
        problems: bad
          ? ['seq 11: the row hash does not recompute from the object (altered), key kiosk-vault/events/000000000011-4b1e.json']
          : [],
      };
    });
    const reviewed = new Set(events.filter((e) => e.kind === 'override.reviewed').map((e) => `${e.kiosk}/${e.caseId}`));
    loaded = {
      overview: {
        configured: true,
        configPath: path,
        endpoint: 'https://s3.example.internal',
        bucket: 'countersign-evidence',
        loadedAtMs: now(),
        kiosks,
        allOk: kiosks.every((k) => k.ok),
        events: events.length,
      },
      events,
      reviewed,
    };
    return loaded.overview;
  }

  function snapshot() {
    if (!loaded) {
      throw new BackendError({
        code: 'app.fleet_not_loaded',
        message: 'the bucket has not been read yet: open the fleet view first',
      });
    }
    return loaded;
  }

  function selected(q: FleetQuery): FleetEventRow[] {
    const s = snapshot();
    return s.events.filter((e) => matches(q, e, s.reviewed));
  }

  return {
    async syncStatus() {
      return mockSyncStatus(options.status, now());
    },
    async fleetOverview() {
      return loaded?.overview ?? notRead();
    },
    async fleetOpen() {
      return read();
    },
    async fleetEvents(q: FleetQuery): Promise<FleetEventPage> {
      const limit = Math.max(1, Math.min(q.limit, 1000));
      const after: FleetCursorView | null = q.after;
      let rows = selected(q);
      if (q.newestFirst) {
        rows = rows.filter((e) => !after || compare(e, after) < 0).reverse();
      } else {
        rows = rows.filter((e) => !after || compare(e, after) > 0);
      }
      const page = rows.slice(0, limit);
      const last = page.at(-1);
      return {
        rows: page,
        nextAfter: rows.length > limit && last ? { tsMs: last.tsMs, kiosk: last.kiosk, seq: last.seq } : null,
      };
    },
    async fleetExport(r: FleetExportRequest): Promise<ExportResult> {
      if (r.format !== 'jsonl' && r.format !== 'ocsf') {
        throw new BackendError({ code: 'sync.config', message: `export format "${r.format}": expected jsonl or ocsf` });
      }
      const count = selected(r.query).length;
      const ext = r.format === 'ocsf' ? 'ocsf.jsonl' : 'jsonl';
      return { path: `/tmp/countersign-mock/exports/fleet-${now()}.${ext}`, count };
    },
  };
}

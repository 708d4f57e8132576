import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import type { DrillReport } from '../../lib/report/types.ts';

export function sampleReport(overrides: Partial<DrillReport> = {}): DrillReport {
  return {
    database: 'app',
    provider: 'local',
    status: 'passed',
    target: { requested: 'latest', time: '2026-11-25T19:00:00.000Z' },
    window: { earliest: '2026-11-24T19:00:00.000Z', latest: '2026-11-25T19:00:00.000Z' },
    rpo: { targetSeconds: 300, claimedSeconds: 42.5, measuredLagSeconds: 12.25, compliant: true },
    rto: { targetSeconds: 3600, restoreSeconds: 61, verifySeconds: 4.5, totalSeconds: 65.5, compliant: true },
    checks: [
      { check: 'ledger', status: 'pass', summary: '12 migrations applied and matching', details: {} },
      { check: 'rowCounts', status: 'pass', summary: '3 tables counted', details: { counts: { users: 3 } } },
      { check: 'freshness', status: 'pass', summary: 'newest users.created_at 12.3s before the target', details: { dataLagSeconds: 12.25 } },
    ],
    copy: { name: 'rd-app-20261125190001-ab12', kept: false, removed: true },
    startedAt: '2026-11-25T19:00:00.000Z',
    finishedAt: '2026-11-25T19:01:10.000Z',
    toolVersion: '0.1.0',
    trigger: 'cli',
    ...overrides,
  };
}

export function failedReport(): DrillReport {
  return sampleReport({
    database: 'billing',
    status: 'failed',
    rpo: { targetSeconds: 300, claimedSeconds: 900, measuredLagSeconds: null, compliant: false },
    checks: [
      { check: 'ledger', status: 'fail', summary: '1 hash mismatch: 0003_add_<index> & friends', details: {} },
      { check: 'rowCounts', status: 'pass', summary: '2 tables counted', details: {} },
    ],
    copy: { name: 'rd-billing-20261125190001-cd34', kept: false, removed: true },
  });
}

export interface ReceivedRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  /** The body, gunzipped when it came compressed. */
  body: string;
  compressed: boolean;
}

export type Responder = (request: ReceivedRequest, response: ServerResponse, index: number) => void;

/** An HTTP server on loopback that records every request and answers through `respond`. */
export async function recordingServer(respond: Responder) {
  const requests: ReceivedRequest[] = [];
  const waiters: { count: number; resolve: () => void }[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      const compressed = req.headers['content-encoding'] === 'gzip';
      const request = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: (compressed ? gunzipSync(raw) : raw).toString('utf8'), compressed };
      requests.push(request);
      for (const waiter of waiters.filter((w) => requests.length >= w.count)) waiter.resolve();
      respond(request, res, requests.length - 1);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    /** Resolves once `count` requests have arrived. */
    received: (count: number) => new Promise<void>((resolve) => (requests.length >= count ? resolve() : waiters.push({ count, resolve }))),
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

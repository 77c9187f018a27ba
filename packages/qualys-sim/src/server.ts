/**
 * The Qualys API simulator: node:http, the paths and envelopes of qualys-api.md, Basic auth, the
 * X-Requested-With rule, rate and concurrency limits with their headers, and faults on demand.
 * A development tool: binds to 127.0.0.1 unless told otherwise.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '@qpc/worker-kit';
import { DEFAULT_LIMITS, FaultState, maxLatency, takeOneShot, type Faults, type Limits, type SimStats } from './control.ts';
import { aboutXml, genericReturn, HTML_ERROR_PAGE, simpleReturn } from './envelopes.ts';
import { DEMO_SCENARIO, loadScenarioFile, resolveScenario, type Scenario } from './scenario.ts';
import { ReportService } from './reports.ts';
import { PostureService } from './posture.ts';

export interface SimulatorOptions {
  port?: number;
  host?: string;
  scenario?: Scenario | string;
  logger?: Logger;
}

export interface Simulator {
  url: string;
  close(): Promise<void>;
  setFaults(faults: Faults | null, reportId?: string): void;
  setLimits(limits: Partial<Limits>): void;
  stats(): SimStats;
  scenario: Scenario;
}

const XML = 'text/xml; charset=UTF-8';
const PATHS: Record<string, string> = {
  '/api/2.0/fo/report/': 'report',
  '/api/2.0/fo/report': 'report',
  '/api/2.0/fo/compliance/policy/': 'policy',
  '/api/2.0/fo/compliance/policy': 'policy',
  '/msp/about.php': 'about',
  '/api/2.0/fo/compliance/posture/info/': 'posture2',
  '/api/2.0/fo/compliance/posture/info': 'posture2',
  '/api/3.0/fo/compliance/posture/info/': 'posture3',
  '/api/3.0/fo/compliance/posture/info': 'posture3',
};

export interface Call {
  req: IncomingMessage;
  res: ServerResponse;
  params: URLSearchParams;
  path: string;
  faults: FaultState[];
  /** set the limit headers and status, then write the whole body */
  send(status: number, contentType: string, body: string, extra?: Record<string, string>): void;
  /** set the limit headers only (streamed answers) */
  limitHeaders(): void;
}

export class SimulatorServer implements Simulator {
  url = '';
  readonly scenario: Scenario;
  private readonly server: Server;
  private limits: Limits = { ...DEFAULT_LIMITS };
  private windowStart = Date.now();
  private used = 0;
  private running = 0;
  private readonly faultSets = new Map<string, FaultState>();
  private readonly st: SimStats = { calls: 0, byPath: {}, byAction: {}, conflicts409: 0, maxConcurrent: 0, running: 0, fetches: {} };
  private readonly reports: ReportService;
  private readonly posture: PostureService;

  constructor(scenario: Scenario, private readonly logger?: Logger) {
    this.scenario = scenario;
    this.reports = new ReportService(scenario);
    this.posture = new PostureService(this.reports, scenario);
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        this.logger?.error({ err }, 'simulator handler failed');
        if (!res.headersSent) {
          res.statusCode = 500;
          res.end();
        } else res.destroy();
      });
    });
    this.server.keepAliveTimeout = 5000;
  }

  async listen(port: number, host: string): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => resolve());
    });
    const a = this.server.address() as AddressInfo;
    const h = a.family === 'IPv6' ? `[${a.address}]` : a.address;
    this.url = `http://${h}:${a.port}`;
  }

  async close(): Promise<void> {
    this.reports.closing = true;
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  setFaults(faults: Faults | null, reportId?: string): void {
    const key = reportId ?? '*';
    if (faults === null) this.faultSets.delete(key);
    else this.faultSets.set(key, new FaultState(faults));
  }

  setLimits(limits: Partial<Limits>): void {
    this.limits = { ...this.limits, ...limits };
    if (limits.windowSec !== undefined || limits.rateLimit !== undefined) {
      this.windowStart = Date.now();
      this.used = 0;
    }
  }

  stats(): SimStats {
    return { ...this.st, byPath: { ...this.st.byPath }, byAction: { ...this.st.byAction }, fetches: { ...this.st.fetches }, running: this.running };
  }

  private rateWindow(now: number): { remaining: number; toWait: number } {
    const winMs = this.limits.windowSec * 1000;
    if (now - this.windowStart >= winMs) {
      this.windowStart = now;
      this.used = 0;
    }
    return { remaining: Math.max(0, this.limits.rateLimit - this.used), toWait: Math.ceil((this.windowStart + winMs - now) / 1000) };
  }

  private limitHeaders(res: ServerResponse, toWaitSec: number | null): void {
    const { remaining } = this.rateWindow(Date.now());
    res.setHeader('X-RateLimit-Limit', String(this.limits.rateLimit));
    res.setHeader('X-RateLimit-Window-Sec', String(this.limits.windowSec));
    res.setHeader('X-RateLimit-Remaining', String(remaining));
    if (toWaitSec !== null) res.setHeader('X-RateLimit-ToWait-Sec', String(toWaitSec));
    res.setHeader('X-Concurrency-Limit-Limit', String(this.limits.concurrency));
    res.setHeader('X-Concurrency-Limit-Running', String(this.running));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const u = new URL(req.url ?? '/', 'http://sim');
    const path = u.pathname;
    this.st.calls++;
    this.st.byPath[path] = (this.st.byPath[path] ?? 0) + 1;
    // a call is running from its arrival until its response is fully sent (or the socket is gone)
    this.running++;
    this.st.maxConcurrent = Math.max(this.st.maxConcurrent, this.running);
    let done = false;
    const finish = (): void => {
      if (!done) {
        done = true;
        this.running--;
      }
    };
    res.once('finish', finish);
    res.once('close', finish);

    let toWait: number | null = 0;
    const send = (status: number, contentType: string, body: string, extra: Record<string, string> = {}): void => {
      if (status === 409) this.st.conflicts409++;
      this.limitHeaders(res, toWait);
      res.statusCode = status;
      res.setHeader('Content-Type', contentType);
      res.setHeader('Content-Length', String(Buffer.byteLength(body)));
      for (const [k, v] of Object.entries(extra)) res.setHeader(k, v);
      res.end(body);
    };

    const route = PATHS[path];
    if (!route) return send(404, 'text/html; charset=UTF-8', '<html><body><h1>404 Not Found</h1></body></html>\n');
    const params = new URLSearchParams(u.search);
    if (req.method === 'POST') {
      const body = await readForm(req);
      if (body === null) return send(413, XML, simpleReturn(1901, 'Request body too large'));
      for (const [k, v] of new URLSearchParams(body)) params.set(k, v);
    } else if (req.method !== 'GET') {
      return send(405, XML, simpleReturn(1901, `Unsupported method ${req.method ?? ''}`), { Allow: 'GET, POST' });
    }
    const action = params.get('action') ?? '';
    const key = `${path}?action=${action}`;
    this.st.byAction[key] = (this.st.byAction[key] ?? 0) + 1;
    this.logger?.debug({ method: req.method, path, action }, 'sim call');

    if (!req.headers['x-requested-with'])
      return send(400, XML, simpleReturn(1907, 'Missing required header X-Requested-With'));
    if (!this.authorized(req.headers.authorization))
      return send(401, XML, simpleReturn(2000, 'Bad Login/Password'), { 'WWW-Authenticate': 'Basic realm="MSP Portal"' });

    // limits: concurrency first (this call included), then the rate window
    if (this.running > this.limits.concurrency) {
      toWait = 1;
      return send(409, XML, simpleReturn(1960, `Concurrency limit of ${this.limits.concurrency} exceeded`, [['SECONDS_TO_WAIT', '1']]));
    }
    const w = this.rateWindow(Date.now());
    if (w.remaining <= 0) {
      toWait = w.toWait;
      return send(409, XML, simpleReturn(1965, 'This API cannot be run again until the rate limit window is reset', [['SECONDS_TO_WAIT', String(w.toWait)]]));
    }
    this.used++;

    const id = params.get('id');
    const sets: FaultState[] = [];
    if (id !== null && this.faultSets.has(id)) sets.push(this.faultSets.get(id) as FaultState);
    if (this.faultSets.has('*')) sets.push(this.faultSets.get('*') as FaultState);
    const latency = maxLatency(sets);
    if (latency > 0) await new Promise((r) => setTimeout(r, latency));
    if (res.destroyed) return;

    const shot = takeOneShot(sets);
    if (shot) {
      switch (shot.kind) {
        case '5xx':
          return send(503, 'text/plain; charset=UTF-8', 'Service Unavailable\n');
        case '409':
          toWait = shot.toWaitSec < 0 ? null : shot.toWaitSec;
          return send(409, XML, simpleReturn(1965, 'This API cannot be run again until the rate limit window is reset', [['SECONDS_TO_WAIT', String(Math.max(0, shot.toWaitSec))]]));
        case 'generic':
          return send(500, XML, genericReturn(path, this.scenario.user.login));
        case 'html':
          return send(200, 'text/html; charset=UTF-8', HTML_ERROR_PAGE);
        case 'simple200':
          return send(200, XML, simpleReturn(shot.code, shot.text));
      }
    }

    const call: Call = { req, res, params, path, faults: sets, send, limitHeaders: () => this.limitHeaders(res, 0) };
    switch (route) {
      case 'about':
        return send(200, XML, aboutXml());
      case 'policy':
        return this.reports.policyList(call, action);
      case 'posture2':
        return this.posture.list(call, '2.0');
      case 'posture3':
        return this.posture.list(call, '3.0');
      case 'report':
        if (action === 'fetch' && id !== null) this.st.fetches[id] = (this.st.fetches[id] ?? 0) + 1;
        return this.reports.reportAction(call, action);
    }
  }

  private authorized(header: string | undefined): boolean {
    const m = /^Basic\s+(\S+)$/i.exec(header ?? '');
    if (!m) return false;
    const decoded = Buffer.from(m[1] as string, 'base64').toString('utf8');
    const { login, password } = this.scenario.user;
    return decoded === `${login}:${password}`;
  }
}

async function readForm(req: IncomingMessage): Promise<string | null> {
  let size = 0;
  const parts: Buffer[] = [];
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > 64 * 1024) return null;
    parts.push(chunk);
  }
  return Buffer.concat(parts).toString('utf8');
}

export async function startSimulator(opts: SimulatorOptions = {}): Promise<Simulator> {
  const scenario =
    typeof opts.scenario === 'string'
      ? await loadScenarioFile(opts.scenario)
      : opts.scenario
        ? structuredClone(opts.scenario) // launches append reports: never into the caller's object
        : resolveScenario(DEMO_SCENARIO);
  const sim = new SimulatorServer(scenario, opts.logger);
  await sim.listen(opts.port ?? 0, opts.host ?? '127.0.0.1');
  opts.logger?.info({ url: sim.url, user: scenario.user.login }, 'Qualys simulator listening (development tool, not for production)');
  return sim;
}

import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';

/** Debian's `chromium` package; CI installs it (.ci/run). */
export const CHROMIUM = process.env.CHROMIUM_BIN ?? '/usr/bin/chromium';

interface Message {
  id?: number;
  method?: string;
  params?: Record<string, unknown>;
  result?: Record<string, unknown>;
  error?: { message: string };
  sessionId?: string;
}

export interface PageProblem {
  kind: 'console' | 'exception' | 'log';
  text: string;
}

/**
 * Headless Chromium driven over the DevTools protocol on a pipe (--remote-debugging-pipe: file
 * descriptors 3 and 4, NUL-terminated JSON messages), with the network off: every request goes to a
 * proxy that does not exist, names resolve nowhere, and the page's session is emulated offline.
 * Every request the page makes and every console error are recorded.
 */
export class Chromium {
  readonly problems: PageProblem[] = [];
  readonly requests: string[] = [];
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (value: Record<string, unknown>) => void; reject: (error: Error) => void; method: string }>();
  private loads = 0;
  private readonly loadWaiters: (() => void)[] = [];
  private sessionId: string | undefined;
  private readonly child: ChildProcess;
  private readonly profile: string;
  private readonly input: Writable;

  private constructor(child: ChildProcess, profile: string, input: Writable) {
    this.child = child;
    this.profile = profile;
    this.input = input;
  }

  static async launch(options: { width?: number; height?: number } = {}): Promise<Chromium> {
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install chromium (.ci/run installs it)`);
    const profile = await mkdtemp(join(tmpdir(), 'rd-chromium-'));
    const child = spawn(
      CHROMIUM,
      [
        '--headless=new',
        // Root in a container: Chromium's sandbox needs namespaces it does not get.
        '--no-sandbox',
        '--disable-gpu',
        '--remote-debugging-pipe',
        `--user-data-dir=${profile}`,
        '--no-first-run',
        '--no-default-browser-check',
        '--disable-extensions',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--disable-features=Translate,MediaRouter,OptimizationHints',
        '--proxy-server=http://127.0.0.1:9',
        '--proxy-bypass-list=<-loopback>',
        '--host-resolver-rules=MAP * ~NOTFOUND',
        `--window-size=${options.width ?? 1200},${options.height ?? 900}`,
        'about:blank',
      ],
      { stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'] },
    );
    const browser = new Chromium(child, profile, child.stdio[3] as Writable);
    let stderr = '';
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr = (stderr + chunk).slice(-4000)));
    let buffer = '';
    (child.stdio[4] as Readable).setEncoding('utf8').on('data', (chunk: string) => {
      buffer += chunk;
      let end: number;
      while ((end = buffer.indexOf('\0')) >= 0) {
        browser.receive(JSON.parse(buffer.slice(0, end)) as Message);
        buffer = buffer.slice(end + 1);
      }
    });
    child.once('exit', (code, signal) => {
      for (const call of browser.pending.values()) call.reject(new Error(`chromium exited (${code ?? signal}) during ${call.method}: ${stderr}`));
      browser.pending.clear();
    });
    const { targetId } = await browser.send('Target.createTarget', { url: 'about:blank' }, false);
    const { sessionId } = await browser.send('Target.attachToTarget', { targetId, flatten: true }, false);
    browser.sessionId = sessionId as string;
    await Promise.all([browser.send('Runtime.enable'), browser.send('Log.enable'), browser.send('Network.enable'), browser.send('Page.enable')]);
    await browser.send('Network.emulateNetworkConditions', { offline: true, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
    await browser.send('Emulation.setDeviceMetricsOverride', { width: options.width ?? 1200, height: options.height ?? 900, deviceScaleFactor: 1, mobile: false });
    return browser;
  }

  private receive(message: Message): void {
    if (message.id !== undefined) {
      const call = this.pending.get(message.id);
      if (!call) return;
      this.pending.delete(message.id);
      if (message.error) call.reject(new Error(`${call.method}: ${message.error.message}`));
      else call.resolve(message.result ?? {});
      return;
    }
    const params = message.params ?? {};
    if (message.method === 'Runtime.consoleAPICalled' && (params.type === 'error' || params.type === 'assert')) {
      this.problems.push({ kind: 'console', text: ((params.args as { value?: unknown; description?: string }[]) ?? []).map((arg) => String(arg.value ?? arg.description)).join(' ') });
    } else if (message.method === 'Runtime.exceptionThrown') {
      const details = params.exceptionDetails as { text?: string; exception?: { description?: string } };
      this.problems.push({ kind: 'exception', text: `${details.text ?? ''} ${details.exception?.description ?? ''}` });
    } else if (message.method === 'Log.entryAdded') {
      const entry = params.entry as { level?: string; text?: string; url?: string };
      if (entry.level === 'error') this.problems.push({ kind: 'log', text: `${entry.text ?? ''} ${entry.url ?? ''}` });
    } else if (message.method === 'Network.requestWillBeSent') {
      this.requests.push(String((params.request as { url?: string }).url));
    }
    if (message.method === 'Page.loadEventFired') {
      this.loads++;
      for (const resolve of this.loadWaiters.splice(0)) resolve();
    }
  }

  send(method: string, params: Record<string, unknown> = {}, inSession = true): Promise<Record<string, unknown>> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject, method });
      this.input.write(`${JSON.stringify({ id, method, params, ...(inSession && this.sessionId ? { sessionId: this.sessionId } : {}) })}\0`);
    });
  }

  private loadAfter(seen: number): Promise<void> {
    if (this.loads > seen) return Promise.resolve();
    return new Promise((resolve) => this.loadWaiters.push(resolve));
  }

  /** Opens the URL and resolves once that document has loaded (not the previous one, whose load event may arrive late). */
  async open(url: string): Promise<void> {
    const href = new URL(url).href;
    const result = await this.send('Page.navigate', { url });
    if (result.errorText) throw new Error(`cannot open ${url}: ${String(result.errorText)}`);
    for (;;) {
      // Counted before asking, so that a load event arriving meanwhile is not missed.
      const seen = this.loads;
      if ((await this.evaluate<string>('location.href + " " + document.readyState')) === `${href} complete`) return;
      await this.loadAfter(seen);
    }
  }

  /** The expression's value in the page (awaited when it is a promise). */
  async evaluate<T>(expression: string): Promise<T> {
    const result = await this.send('Runtime.evaluate', { expression, returnByValue: true, awaitPromise: true });
    if (result.exceptionDetails) throw new Error(`evaluate failed: ${JSON.stringify(result.exceptionDetails)}`);
    return (result.result as { value: T }).value;
  }

  /** A PNG of the page at the given width, from `top` down `height` pixels (default: all of it). */
  async screenshot(width: number, clip: { top?: number; height?: number } = {}): Promise<Buffer> {
    const full = await this.evaluate<number>('document.documentElement.scrollHeight');
    await this.send('Emulation.setDeviceMetricsOverride', { width, height: full, deviceScaleFactor: 1, mobile: false });
    const top = clip.top ?? 0;
    const height = Math.min(clip.height ?? full, full - top);
    const { data } = await this.send('Page.captureScreenshot', { format: 'png', captureBeyondViewport: true, clip: { x: 0, y: top, width, height, scale: 1 } });
    return Buffer.from(String(data), 'base64');
  }

  async close(): Promise<void> {
    const exited = new Promise<void>((resolve) => (this.child.exitCode !== null || this.child.signalCode !== null ? resolve() : this.child.once('exit', () => resolve())));
    await this.send('Browser.close', {}, false).catch(() => undefined);
    await exited;
    await rm(this.profile, { recursive: true, force: true });
  }
}

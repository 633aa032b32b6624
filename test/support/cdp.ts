/**
 * Headless Chromium driven over the DevTools protocol on a pipe (--remote-debugging-pipe): no
 * port, no dependency. Enough for tests that need a real browser's cookie and same-origin rules:
 * open a tab, navigate, evaluate script in the page, watch its network, read the cookie jar.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';

type Message = { id?: number; method?: string; params?: Record<string, unknown>; result?: Record<string, unknown>; error?: { message: string }; sessionId?: string };
type Listener = (params: Record<string, unknown>, sessionId: string | undefined) => void;

export class Chromium {
  #next = 1;
  readonly #pending = new Map<number, { resolve: (v: Record<string, unknown>) => void; reject: (e: Error) => void; method: string }>();
  readonly #listeners = new Map<string, Set<Listener>>();
  readonly #stderr: string[] = [];

  private constructor(
    private readonly child: ChildProcess,
    private readonly profile: string,
  ) {
    const input = child.stdio[4] as Readable;
    let buffer = '';
    input.setEncoding('utf8');
    input.on('data', (chunk: string) => {
      buffer += chunk;
      let end: number;
      while ((end = buffer.indexOf('\0')) !== -1) {
        const text = buffer.slice(0, end);
        buffer = buffer.slice(end + 1);
        this.#receive(JSON.parse(text) as Message);
      }
    });
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => this.#stderr.push(chunk));
    child.on('exit', () => {
      for (const { reject, method } of this.#pending.values()) reject(new Error(`chromium exited during ${method}: ${this.#stderr.join('').slice(-2000)}`));
      this.#pending.clear();
    });
  }

  /** A fresh profile (removed at close), headless, with the flags a shared CI machine needs. */
  static async launch(executable: string): Promise<Chromium> {
    const profile = await mkdtemp(join(tmpdir(), 'pier-chromium-'));
    const child = spawn(
      executable,
      [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        `--user-data-dir=${profile}`,
        '--remote-debugging-pipe',
        'about:blank',
      ],
      { stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'] },
    );
    const browser = new Chromium(child, profile);
    await browser.send('Browser.getVersion');
    return browser;
  }

  send(method: string, params: Record<string, unknown> = {}, sessionId?: string): Promise<Record<string, unknown>> {
    const id = this.#next++;
    const message: Message = { id, method, params, ...(sessionId ? { sessionId } : {}) };
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject, method });
      (this.child.stdio[3] as Writable).write(`${JSON.stringify(message)}\0`);
    });
  }

  /** Calls `listener` for every event `method` (of any tab); returns a function that stops it. */
  on(method: string, listener: Listener): () => void {
    const set = this.#listeners.get(method) ?? new Set();
    set.add(listener);
    this.#listeners.set(method, set);
    return () => set.delete(listener);
  }

  /** A new tab, attached, with the Page, Runtime and Network domains on. */
  async newTab(): Promise<Tab> {
    const { targetId } = (await this.send('Target.createTarget', { url: 'about:blank' })) as { targetId: string };
    const { sessionId } = (await this.send('Target.attachToTarget', { targetId, flatten: true })) as { sessionId: string };
    const tab = new Tab(this, sessionId);
    for (const domain of ['Page', 'Runtime', 'Network']) await tab.send(`${domain}.enable`);
    return tab;
  }

  /** Every cookie of the profile, with its attributes as the browser stored them. */
  async cookies(): Promise<Array<{ name: string; value: string; domain: string; path: string; httpOnly: boolean; secure: boolean; sameSite?: string }>> {
    return ((await this.send('Storage.getCookies')) as { cookies: never[] }).cookies;
  }

  async close(): Promise<void> {
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    await this.send('Browser.close').catch(() => undefined);
    await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5000))]);
    if (this.child.exitCode === null) this.child.kill('SIGKILL');
    await rm(this.profile, { recursive: true, force: true });
  }

  #receive(message: Message): void {
    if (message.id !== undefined) {
      const pending = this.#pending.get(message.id);
      this.#pending.delete(message.id);
      if (!pending) return;
      if (message.error) pending.reject(new Error(`${pending.method}: ${message.error.message}`));
      else pending.resolve(message.result ?? {});
      return;
    }
    for (const listener of this.#listeners.get(message.method ?? '') ?? []) listener(message.params ?? {}, message.sessionId);
  }
}

export class Tab {
  constructor(
    readonly browser: Chromium,
    readonly sessionId: string,
  ) {}

  send(method: string, params: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
    return this.browser.send(method, params, this.sessionId);
  }

  /** Events of this tab only. */
  on(method: string, listener: (params: Record<string, unknown>) => void): () => void {
    return this.browser.on(method, (params, sessionId) => {
      if (sessionId === this.sessionId) listener(params);
    });
  }

  /** Navigates and waits for the page's load event. */
  async goto(url: string, timeoutMs = 30_000): Promise<void> {
    const loaded = this.waitFor('Page.loadEventFired', () => true, timeoutMs);
    const result = (await this.send('Page.navigate', { url })) as { errorText?: string };
    if (result.errorText) throw new Error(`navigating to ${url}: ${result.errorText}`);
    await loaded;
  }

  /** The first event `method` of this tab that `match` accepts. */
  waitFor(method: string, match: (params: Record<string, unknown>) => boolean, timeoutMs = 30_000): Promise<Record<string, unknown>> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        stop();
        reject(new Error(`no ${method} within ${timeoutMs} ms`));
      }, timeoutMs);
      const stop = this.on(method, (params) => {
        if (!match(params)) return;
        clearTimeout(timer);
        stop();
        resolve(params);
      });
    });
  }

  /** Runs `expression` in the page (awaiting a promise) and returns its value as JSON. */
  async evaluate<T>(expression: string): Promise<T> {
    const { result, exceptionDetails } = (await this.send('Runtime.evaluate', { expression, awaitPromise: true, returnByValue: true })) as {
      result: { value?: unknown };
      exceptionDetails?: { text: string; exception?: { description?: string } };
    };
    if (exceptionDetails) throw new Error(`in the page: ${exceptionDetails.exception?.description ?? exceptionDetails.text}`);
    return result.value as T;
  }
}

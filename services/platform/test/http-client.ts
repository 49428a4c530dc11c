// One browser-less buyer (or organiser) with its own session cookie, talking to a running platform
// over real HTTP: what the distributed tests drive purchases with.
import { expect } from "vitest";

export interface Reply {
  status: number;
  body: Record<string, unknown>;
  /** The Retry-After header (every 503 must carry one). */
  retryAfter: string | null;
}

export class Client {
  cookie = "";
  readonly base: string;
  constructor(base: string) {
    this.base = base;
  }

  async request(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Reply> {
    const response = await fetch(`${this.base}${path}`, {
      method,
      headers: { ...(body === undefined ? {} : { "content-type": "application/json" }), ...(this.cookie ? { cookie: this.cookie } : {}), ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(20_000),
    });
    const cookies = response.headers.getSetCookie().map((c) => c.split(";")[0]);
    if (cookies.length > 0) this.cookie = cookies.join("; ");
    const text = await response.text();
    let parsed: Record<string, unknown>;
    try {
      parsed = text ? (JSON.parse(text) as Record<string, unknown>) : {};
    } catch {
      parsed = { text };
    }
    return { status: response.status, body: parsed, retryAfter: response.headers.get("retry-after") };
  }

  async signIn(email: string, password: string): Promise<void> {
    const reply = await this.request("POST", "/api/session", { email, password });
    expect(reply.status, `sign-in of ${email}: ${JSON.stringify(reply.body)}`).toBe(200);
  }
}

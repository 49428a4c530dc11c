// A stand-in for the services behind the bus, for tests of the HTTP layer alone: it keeps a few
// users, events and holds in memory and fails the way the real services do (RpcError codes).
import { RpcError } from "@boxoffice/bus";
import type { Hold, HttpEvent, Order, Seat, User } from "@boxoffice/contracts";
import type { GatewayBackend, SignedIn } from "../src/backend.ts";

export interface FakeBackend extends GatewayBackend {
  readonly calls: Record<string, number>;
  /** Makes the next calls of `method` fail with this code (until cleared with undefined). */
  failWith(method: keyof GatewayBackend, code: string | undefined): void;
  /** Resolves pending getEvent and getEventSchedule calls only when released (to test coalescing). */
  holdGetEvent(): () => void;
  /** Services whose health method reports a problem (e.g. one shard down). */
  readonly unhealthy: Set<string>;
  readonly events: Map<string, HttpEvent>;
  /** The waiting-room admission each hold carried, in order (inventory verifies them for real). */
  readonly holdAdmissions: Array<string | undefined>;
  /** How long identity tokens issued from now on last, ms (default an hour; ≤ 0: already expired). */
  tokenLifetimeMs: number;
}

export function createFakeBackend(): FakeBackend {
  const calls: Record<string, number> = {};
  const failures = new Map<string, string>();
  const users = new Map<string, { user: User; password: string }>();
  const tokens = new Map<string, User>();
  const refreshTokens = new Map<string, User>();
  const tokenExpiry = new Map<string, number>();
  const events = new Map<string, HttpEvent>();
  const holds = new Map<string, Hold & { userId: string }>();
  const orders = new Map<string, Order & { userId: string; key: string }>();
  let gate: Promise<void> | undefined;
  let sequence = 2; // ids 1 and 2: the organiser and the operator

  users.set("organizer@boxoffice.test", {
    user: { id: "1", email: "organizer@boxoffice.test", displayName: "Organiser", role: "organizer" },
    password: "organizer-password",
  });
  users.set("operator@boxoffice.test", {
    user: { id: "2", email: "operator@boxoffice.test", displayName: "Operator", role: "operator" },
    password: "operator-password",
  });
  events.set("100", {
    id: "100",
    title: "Fake Festival",
    venue: "Test Hall",
    startsAt: "2030-01-01T20:00:00.000Z",
    status: "on_sale",
    available: 10,
    sections: [{ id: "101", name: "Floor", priceCents: 5000, capacity: 10, available: 10 }],
  });

  function track(method: string): void {
    calls[method] = (calls[method] ?? 0) + 1;
    const code = failures.get(method);
    if (code) throw new RpcError(code, `fake ${method} failed with ${code}`, { retryable: code === "BUSY" || code === "UNAVAILABLE" });
  }

  function caller(token: string | undefined): User {
    const user = token ? tokens.get(token) : undefined;
    if (!user || (tokenExpiry.get(token!) ?? Infinity) <= Date.now()) throw new RpcError("UNAUTHENTICATED", "no valid token");
    return user;
  }

  const backend: FakeBackend = {
    unhealthy: new Set<string>(),
    tokenLifetimeMs: 3600_000,
    calls,
    events,
    holdAdmissions: [],
    failWith(method, code) {
      if (code) failures.set(method, code);
      else failures.delete(method);
    },
    holdGetEvent() {
      let release = () => {};
      gate = new Promise((resolve) => (release = resolve));
      return () => {
        gate = undefined;
        release();
      };
    },
    async signUp(input) {
      track("signUp");
      if (users.has(input.email)) throw new RpcError("EMAIL_TAKEN", "an account with this email exists");
      const user: User = { id: String(++sequence), email: input.email, displayName: input.displayName, role: "buyer" };
      users.set(input.email, { user, password: input.password });
      return user;
    },
    async signIn(input): Promise<SignedIn> {
      track("signIn");
      const account = users.get(input.email);
      if (!account || account.password !== input.password) throw new RpcError("INVALID_CREDENTIALS", "wrong email or password");
      const token = `token-${account.user.id}-${++sequence}`;
      tokens.set(token, account.user);
      tokenExpiry.set(token, Date.now() + backend.tokenLifetimeMs);
      const refreshToken = `refresh-${account.user.id}-${++sequence}`;
      refreshTokens.set(refreshToken, account.user);
      return { user: account.user, token, tokenExpiresAt: Date.now() + backend.tokenLifetimeMs, refreshToken, refreshExpiresAt: Date.now() + 2 * 86_400_000 };
    },
    async refresh(refreshToken): Promise<SignedIn> {
      track("refresh");
      const user = refreshTokens.get(refreshToken);
      if (!user) throw new RpcError("UNAUTHENTICATED", "refresh refused");
      const token = `token-${user.id}-${++sequence}`;
      tokens.set(token, user);
      tokenExpiry.set(token, Date.now() + backend.tokenLifetimeMs);
      return { user, token, tokenExpiresAt: Date.now() + backend.tokenLifetimeMs };
    },
    async revokeRefreshToken(refreshToken) {
      track("revokeRefreshToken");
      refreshTokens.delete(refreshToken);
    },
    async listEvents(input) {
      track("listEvents");
      const all = [...events.values()].map((e) => ({
        id: e.id, title: e.title, venue: e.venue, startsAt: e.startsAt, status: e.status,
        minPriceCents: Math.min(...e.sections.map((s) => s.priceCents)),
        available: e.sections.reduce((sum, s) => sum + s.available, 0),
      }));
      if (input.cursor && !/^\d+$/.test(input.cursor)) throw new RpcError("VALIDATION_FAILED", "bad cursor", { details: { fields: [{ path: "cursor", message: "unknown cursor" }] } });
      const start = input.cursor ? Number(input.cursor) : 0;
      const page = all.slice(start, start + input.limit);
      return { events: page, nextCursor: start + input.limit < all.length ? String(start + input.limit) : null };
    },
    async getEvent(eventId) {
      track("getEvent");
      if (gate) await gate;
      const event = events.get(eventId);
      if (!event) throw new RpcError("NOT_FOUND", "no such event");
      return structuredClone(event);
    },
    async getEventSchedule(eventId) {
      track("getEventSchedule");
      if (gate) await gate;
      const event = events.get(eventId);
      if (!event) throw new RpcError("NOT_FOUND", "no such event");
      return { title: event.title, salesStartAt: event.salesStartAt, organizerId: event.organizerId };
    },
    async createEvent(input, options) {
      track("createEvent");
      const user = caller(options.token);
      if (user.role !== "organizer") throw new RpcError("FORBIDDEN", "organisers only");
      const id = String(++sequence);
      const event: HttpEvent = {
        id, title: input.title, venue: input.venue, startsAt: input.startsAt, status: "on_sale",
        sections: input.sections.map((s, i) => ({ id: `${id}${i}`, name: s.name, priceCents: s.priceCents, capacity: s.rows * s.seatsPerRow, available: s.rows * s.seatsPerRow })),
      };
      events.set(id, event);
      return event;
    },
    async getSeats(eventId, options): Promise<Seat[]> {
      track("getSeats");
      const event = events.get(eventId);
      if (!event) throw new RpcError("NOT_FOUND", "no such event");
      if (options?.sectionId !== undefined && options.sectionId !== "101") {
        throw new RpcError("VALIDATION_FAILED", "this event has no such section", { details: { fields: [{ path: "query.section", message: "not a section of this event" }] } });
      }
      return [{ id: "1001", sectionId: "101", section: "Floor", row: 1, number: 1, status: "available" }];
    },
    async hold(eventId, input, options) {
      track("hold");
      const user = caller(options.token);
      backend.holdAdmissions.push(options.admission);
      const event = events.get(eventId);
      if (!event) throw new RpcError("NOT_FOUND", "no such event");
      const quantity = "quantity" in input ? input.quantity : input.seatIds.length;
      const section = event.sections[0];
      if (section.available < quantity) throw new RpcError("SOLD_OUT", "not enough seats");
      section.available -= quantity;
      const hold: Hold = {
        id: String(++sequence),
        eventId,
        seats: Array.from({ length: quantity }, (_, i) => ({ id: `s${sequence}-${i}`, sectionId: section.id, section: section.name, row: 1, number: i + 1, priceCents: section.priceCents })),
        totalCents: quantity * section.priceCents,
        expiresAt: new Date(Date.now() + 600_000).toISOString(),
      };
      holds.set(hold.id, { ...hold, userId: user.id });
      return hold;
    },
    async releaseHold(holdId, options) {
      track("releaseHold");
      const user = caller(options.token);
      const hold = holds.get(holdId);
      if (!hold || hold.userId !== user.id) throw new RpcError("NOT_FOUND", "no such hold");
      holds.delete(holdId);
    },
    async placeOrder(input, options) {
      track("placeOrder");
      const user = caller(options.token);
      const previous = [...orders.values()].find((o) => o.key === input.idempotencyKey && o.userId === user.id);
      if (previous) {
        if (previous.holdId !== input.holdId) throw new RpcError("IDEMPOTENCY_MISMATCH", "same key, different request");
        return previous;
      }
      if (input.payment.cardNumber === "4000000000000002") throw new RpcError("PAYMENT_DECLINED", "card declined", { details: { declineCode: "card_declined" } });
      const hold = holds.get(input.holdId);
      if (!hold || hold.userId !== user.id) throw new RpcError("HOLD_EXPIRED", "the hold expired");
      const order = {
        id: String(++sequence), status: "confirmed" as const, eventId: hold.eventId, holdId: hold.id, paymentId: "p1",
        tickets: hold.seats.map((s, i) => ({ id: `t${i}`, seatId: s.id, code: `CODE${i}`, section: s.section, row: s.row, number: s.number })),
        totalCents: hold.totalCents, createdAt: new Date().toISOString(),
      };
      orders.set(order.id, { ...order, userId: user.id, key: input.idempotencyKey });
      return order;
    },
    async listOrders(options) {
      track("listOrders");
      const user = caller(options.token);
      return [...orders.values()].filter((o) => o.userId === user.id).reverse();
    },
    async getOrder(orderId, options) {
      track("getOrder");
      const user = caller(options.token);
      const order = orders.get(orderId);
      if (!order || order.userId !== user.id) throw new RpcError("NOT_FOUND", "no such order");
      return order;
    },
    async health() {
      track("health");
      const services = ["users", "events", "inventory", "payments"];
      return Object.fromEntries(services.map((name) => [name, !backend.unhealthy.has(name)]));
    },
  };
  return backend;
}

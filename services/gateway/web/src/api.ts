// The browser's client of the gateway's HTTP API: JSON in and out, errors as ApiError with the
// stable code of shared/reference/http-api.md (and Retry-After when the gateway is shedding load).

export interface User { id: string; email: string; displayName: string; role: "buyer" | "organizer" | "operator" }
export interface EventSummary { id: string; title: string; venue: string; startsAt: string; minPriceCents: number; available: number; status: string }
export interface Section { id: string; name: string; priceCents: number; capacity: number; available: number; rows?: number; seatsPerRow?: number }
export interface EventDetail { id: string; title: string; venue: string; startsAt: string; salesStartAt?: string; status: string; organizerId?: string; available?: number; sections: Section[] }
export interface Queue { status: "waiting" | "admitted" | "sold_out" | "expired"; position: number | null; ahead: number | null; estimatedWaitSeconds: number | null; pollAfterSeconds: number; salesStartAt: string; admittedUntil: string | null }
export interface QueueStats { waiting: number; admitted: number; admittedPerMinute: number; paused: boolean; maxAdmitted: number | null }
export interface Seat { id: string; sectionId?: string; section: string; row: number; number: number; status: "available" | "held" | "sold" }
export interface HeldSeat { id: string; section: string; row: number; number: number; priceCents: number }
export interface Hold { id: string; eventId: string; seats: HeldSeat[]; totalCents: number; expiresAt: string }
export interface Ticket { id: string; seatId: string; code: string; section?: string; row?: number; number?: number }
export interface Order { id: string; status: string; eventId: string; tickets: Ticket[]; totalCents: number; createdAt?: string }
/** A confirmed order on the organiser's live socket (?sales=1). */
export interface SaleMessage { type: "sale"; eventId: string; orderId: string; at: string; tickets: number; totalCents: number; sections: Array<{ section: string; tickets: number }> }
export interface Availability { type: "availability"; eventId: string; available: number; sections: Array<{ id: string; available: number }> }

export interface OpsOverview {
  generatedAt: string;
  instances: Array<{ service: string; instance: string; startedAt: string; lastSeenAt: string; inFlight: number; handledPerSecond: number; errorsPerSecond: number; gone: boolean }>;
  methods: Array<{ method: string; callsPerSecond: number; p50Ms: number | null; p99Ms: number | null; errorsPerSecond: number }>;
  channels: Array<{ name: string; depth: number; capacity: number }>;
  shards: Array<{ service: string; shard: string; logicalShards: Array<[number, number]>; reachable: boolean; replicas: number }>;
  firehose: Array<{ stream: string; group: string; lag: number | null; pending: number; deadLetters: number }>;
  rooms: Array<{ eventId: string; title: string; waiting: number; admitted: number; admittedPerMinute: number; paused: boolean }>;
}

export class ApiError extends Error {
  readonly code: string;
  readonly status: number;
  readonly details: unknown;
  readonly retryAfterSeconds: number | undefined;
  constructor(status: number, code: string, message: string, details: unknown, retryAfterSeconds: number | undefined) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

async function request<T>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<T> {
  let response: Response;
  try {
    response = await fetch(path, {
      method,
      credentials: "same-origin",
      headers: body === undefined ? headers : { "content-type": "application/json", ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, "NETWORK", "The connection failed. Check your network and try again.", undefined, undefined);
  }
  if (response.status === 204) return undefined as T;
  const text = await response.text();
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = undefined;
  }
  if (!response.ok) {
    const error = (parsed as { error?: { code?: string; message?: string; details?: unknown } } | undefined)?.error;
    // The session ended (signed out elsewhere, or the identity token expired): tell the page.
    if (response.status === 401 && path !== "/api/session") window.dispatchEvent(new Event("boxoffice:signed-out"));
    const retryAfter = Number(response.headers.get("retry-after"));
    throw new ApiError(
      response.status,
      error?.code ?? `HTTP_${response.status}`,
      error?.message ?? `The server answered ${response.status}.`,
      error?.details,
      Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter : undefined,
    );
  }
  return parsed as T;
}

let prefetched: { id: string; at: number; event: Promise<EventDetail> } | null = null;

/**
 * Starts fetching an event before its page's code has arrived (the first page load of an event's
 * address): the page then takes this answer instead of asking again, if it is under 2 s old.
 */
export function prefetchEvent(id: string): void {
  const event = request<{ event: EventDetail }>("GET", `/api/events/${encodeURIComponent(id)}`).then((r) => r.event);
  event.catch(() => {});
  prefetched = { id, at: Date.now(), event };
}

function takePrefetched(id: string): Promise<EventDetail> | undefined {
  const taken = prefetched;
  prefetched = null;
  return taken && taken.id === id && Date.now() - taken.at < 2000 ? taken.event : undefined;
}

export const api = {
  me: () => request<{ user: User }>("GET", "/api/me").then((r) => r.user),
  signUp: (body: { email: string; password: string; displayName: string }) => request<{ user: User }>("POST", "/api/users", body).then((r) => r.user),
  signIn: (body: { email: string; password: string }) => request<{ user: User }>("POST", "/api/session", body).then((r) => r.user),
  signOut: () => request<void>("DELETE", "/api/session"),
  events: (cursor?: string) => request<{ events: EventSummary[]; nextCursor: string | null }>("GET", `/api/events?limit=12${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`),
  event: (id: string) => takePrefetched(id) ?? request<{ event: EventDetail }>("GET", `/api/events/${encodeURIComponent(id)}`).then((r) => r.event),
  seats: (id: string) => request<{ seats: Seat[] }>("GET", `/api/events/${encodeURIComponent(id)}/seats`).then((r) => r.seats),
  /** One section's seats only (the venue plan never asks for a whole stadium). */
  sectionSeats: (id: string, sectionId: string) =>
    request<{ seats: Seat[] }>("GET", `/api/events/${encodeURIComponent(id)}/seats?section=${encodeURIComponent(sectionId)}`).then((r) => r.seats),
  createEvent: (body: { title: string; venue: string; startsAt: string; salesStartAt?: string; sections: Array<{ name: string; rows: number; seatsPerRow: number; priceCents: number }> }) =>
    request<{ event: EventDetail }>("POST", "/api/events", body).then((r) => r.event),
  hold: (eventId: string, body: { quantity: number } | { seatIds: string[] }) =>
    request<{ hold: Hold }>("POST", `/api/events/${encodeURIComponent(eventId)}/holds`, body).then((r) => r.hold),
  releaseHold: (holdId: string) => request<void>("DELETE", `/api/holds/${encodeURIComponent(holdId)}`),
  order: (body: { holdId: string; payment: { cardNumber: string; expMonth: number; expYear: number; cvc: string } }, idempotencyKey: string) =>
    request<{ order: Order }>("POST", "/api/orders", body, { "idempotency-key": idempotencyKey }).then((r) => r.order),
  joinQueue: (eventId: string) => request<{ queue: Queue }>("POST", `/api/events/${encodeURIComponent(eventId)}/queue`).then((r) => r.queue),
  queue: (eventId: string) => request<{ queue: Queue }>("GET", `/api/events/${encodeURIComponent(eventId)}/queue`).then((r) => r.queue),
  queueStats: (eventId: string) => request<{ stats: QueueStats }>("GET", `/api/events/${encodeURIComponent(eventId)}/queue/stats`).then((r) => r.stats),
  controlQueue: (eventId: string, body: { paused?: boolean; maxAdmitted?: number | null }) =>
    request<{ stats: QueueStats }>("PATCH", `/api/events/${encodeURIComponent(eventId)}/queue`, body).then((r) => r.stats),
  orders: () => request<{ orders: Order[] }>("GET", "/api/orders").then((r) => r.orders),
  opsOverview: () => request<{ overview: OpsOverview }>("GET", "/api/ops/overview").then((r) => r.overview),
  getOrder: (id: string) => request<{ order: Order }>("GET", `/api/orders/${encodeURIComponent(id)}`).then((r) => r.order),
};

/** Sentences for the codes a buyer can meet, in the buyer's words. */
export function describeError(error: unknown): string {
  if (!(error instanceof ApiError)) return "Something went wrong. Please try again.";
  switch (error.code) {
    case "SOLD_OUT": return "Sold out: there are not enough seats left for that quantity.";
    case "SEAT_UNAVAILABLE": return "One of those seats was just taken by someone else. Pick other seats.";
    case "HOLD_EXPIRED": return "Your hold expired and the seats were released. Choose your seats again.";
    case "PAYMENT_DECLINED": return "Your card was declined. Try another card; your seats stay held until the timer runs out.";
    case "LIMIT_EXCEEDED": return "You can buy at most 8 tickets for one event.";
    case "NOT_ADMITTED": return "Others are waiting for this event: you are being taken to the waiting room.";
    case "SALES_NOT_STARTED": return "This event is not on sale yet: wait in the waiting room for the opening.";
    case "NOT_IN_QUEUE": return "You are not in this event's waiting room yet.";
    case "BUSY": return "We are very busy right now.";
    case "UNAVAILABLE": return "A part of the system is unavailable right now.";
    case "INVALID_CREDENTIALS": return "Wrong email or password.";
    case "EMAIL_TAKEN": return "An account with this email already exists. Sign in instead.";
    case "RATE_LIMITED": return "Too many failed attempts. Wait a few minutes and try again.";
    case "UNAUTHENTICATED": return "Please sign in first.";
    case "FORBIDDEN": return "Your account is not allowed to do this.";
    case "NOT_FOUND": return "We could not find that.";
    case "VALIDATION_FAILED": {
      const fields = (error.details as { fields?: Array<{ path: string; message: string }> } | undefined)?.fields;
      return fields?.length ? `Please check: ${fields.map((f) => `${f.path.replace(/^body\./, "")} (${f.message})`).join(", ")}.` : error.message;
    }
    default: return error.message;
  }
}

export function formatMoney(cents: number): string {
  return new Intl.NumberFormat("en-US", { style: "currency", currency: "USD" }).format(cents / 100);
}

export function formatDate(iso: string): string {
  return new Intl.DateTimeFormat("en-GB", { dateStyle: "medium", timeStyle: "short" }).format(new Date(iso));
}

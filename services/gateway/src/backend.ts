// What the HTTP API needs from the services, as one small interface. The real implementation
// (bus-backend.ts) makes RPC calls over the bus through the contracts; tests may pass their own.
// Methods that act for a buyer take the identity token kept in the session.
import type { Hold, HttpCreateEventBody, HttpEvent, HttpEventSummary, HttpHoldBody, HttpOrderBody, Order, Seat, User } from "@boxoffice/contracts";

export interface CallOptions {
  /** The identity token kept in the session; the browser never sees it. */
  readonly token?: string;
}

export interface SignedIn {
  readonly user: User;
  readonly token: string;
  /** When the token stops being accepted (epoch ms); a minute before, the session refreshes it. */
  readonly tokenExpiresAt: number;
  /** Exchanged for a fresh identity token (users.refresh.v1); the session ends when it expires. */
  readonly refreshToken?: string;
  /** When the refresh token stops being accepted (epoch ms). */
  readonly refreshExpiresAt?: number;
}

export interface EventSchedule {
  title: string;
  salesStartAt?: string;
  organizerId?: string;
}

export interface GatewayBackend {
  signUp(input: { email: string; password: string; displayName: string }): Promise<User>;
  signIn(input: { email: string; password: string; clientAddress?: string }): Promise<SignedIn>;
  /**
   * A fresh identity token for the session's refresh token, and (rotation) the refresh token to keep
   * instead; UNAUTHENTICATED when it is no longer good.
   */
  refresh(refreshToken: string): Promise<SignedIn>;
  /** Sign-out: the refresh token's sign-in stops being accepted by the users service. */
  revokeRefreshToken(refreshToken: string): Promise<void>;
  listEvents(input: { limit: number; cursor?: string }): Promise<{ events: HttpEventSummary[]; nextCursor: string | null }>;
  getEvent(eventId: string): Promise<HttpEvent>;
  /**
   * What the waiting room needs of an event (its opening, organiser and title) from the events
   * service alone: no availability read from inventory, which is the busiest service in an on-sale.
   */
  getEventSchedule(eventId: string): Promise<EventSchedule>;
  createEvent(input: HttpCreateEventBody, options: CallOptions): Promise<HttpEvent>;
  /** Every seat of the event, or of one section (`sectionId`). */
  getSeats(eventId: string, options?: { sectionId?: string }): Promise<Seat[]>;
  /** `admission`: the waiting room's signed admission, checked by inventory where the seats are. */
  hold(eventId: string, input: HttpHoldBody, options: CallOptions & { admission?: string }): Promise<Hold>;
  releaseHold(holdId: string, options: CallOptions): Promise<void>;
  placeOrder(input: HttpOrderBody & { idempotencyKey: string }, options: CallOptions): Promise<Order>;
  listOrders(options: CallOptions): Promise<Order[]>;
  getOrder(orderId: string, options: CallOptions): Promise<Order>;
  /** Each service's health method; the map says which answered healthy. */
  health(): Promise<Record<string, boolean>>;
}

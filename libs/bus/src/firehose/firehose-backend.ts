// What a storage backend gives the firehose engine. The engine owns the semantics (positions,
// redelivery, dead-lettering, per-key order); a backend only stores and hands out entries.
import type { DeadLetterInfo, FirehoseEvent } from "./types.ts";

export interface StoredEntry {
  position: string;
  event: FirehoseEvent;
  /** Deliveries to the group including this one (1 for broadcast reads and first group reads). */
  attempt: number;
  deadLetter?: DeadLetterInfo;
}

/** A reader may block; each subscription or consumer has its own so that one never waits on another. */
export interface StreamReader {
  /** Entries after `after`, waiting up to `blockMs` for the first. */
  read(stream: string, after: string, count: number, blockMs: number): Promise<StoredEntry[]>;
  /** Entries the group has not yet handed to anyone; they become pending for `consumer`. */
  readGroup(stream: string, group: string, consumer: string, count: number, blockMs: number): Promise<StoredEntry[]>;
  /** Ends a blocked read (it resolves empty or rejects; the engine is already stopping). */
  close(): void;
}

export interface FirehoseBackend {
  append(stream: string, event: FirehoseEvent): Promise<string>;
  /** Position of the newest entry, or the earliest position when the stream is empty. */
  lastPosition(stream: string): Promise<string>;
  readonly earliestPosition: string;
  isPosition(value: string): boolean;
  ensureGroup(stream: string, group: string): Promise<void>;
  /** Takes over entries pending longer than `idleMs` (any consumer's, including a dead one's). */
  claimIdle(stream: string, group: string, consumer: string, idleMs: number, count: number): Promise<StoredEntry[]>;
  ack(stream: string, group: string, positions: string[]): Promise<void>;
  /** Appends the event to "<stream>.dead-letter" and acknowledges it, atomically where the store allows. */
  deadLetter(stream: string, group: string, entry: StoredEntry, reason: string): Promise<void>;
  openReader(): StreamReader;
  close(): Promise<void>;
}

// The one method the RPC benchmark calls, shared by the caller and the serving child process.
import { z } from "zod";
import { defineMethod } from "../src/index.ts";

const seatRequest = z.object({ eventId: z.string(), seat: z.number(), user: z.string() });

export const benchEchoV1 = defineMethod({ name: "bench.echo.v1", request: seatRequest, response: seatRequest });

export const BENCH_PAYLOAD = { eventId: "evt_01HZX3K9Q7", seat: 42, user: "usr_7731" };

/** For the encrypted rows: the same key on both sides (AES-256-GCM per message, as with BUS_ENCRYPTION_KEYS). */
export const BENCH_ENCRYPTION_KEYS = ["bench-only-key-not-a-secret"];

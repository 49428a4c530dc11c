// Builds a gateway on the in-memory bus with the fake services, for inject() tests.
import { randomBytes } from "node:crypto";
import { createInMemoryChannelLayer, createInMemoryFirehose } from "@boxoffice/bus";
import { buildGateway, type Gateway, type GatewayDeps } from "../src/app.ts";
import { loadGatewayConfig } from "../src/config.ts";
import { createFakeBackend, type FakeBackend } from "./fake-backend.ts";

export function newSessionKey(): string {
  return randomBytes(32).toString("hex");
}

export interface TestGateway {
  gateway: Gateway;
  backend: FakeBackend;
  layer: ReturnType<typeof createInMemoryChannelLayer>;
  firehose: ReturnType<typeof createInMemoryFirehose>;
  close(): Promise<void>;
}

export async function createTestGateway(env: Record<string, string> = {}, backend = createFakeBackend(), deps: Pick<GatewayDeps, "roomStore" | "now" | "admitting"> = {}): Promise<TestGateway> {
  const layer = createInMemoryChannelLayer();
  const firehose = createInMemoryFirehose();
  // The room's rate on the test's clock follows checkout alone: the test machine's own event loop
  // (shared, noisy) must not cut it mid-test. test/admission-rate.test.ts covers the loop signal.
  const config = loadGatewayConfig({ SESSION_KEYS: newSessionKey(), SERVE_WEB: "false", LOG_LEVEL: "silent", ADMISSION_LOOP_LAG_TARGET_MS: "600000", ADMISSION_MAX_LOOP_UTILIZATION: "1", ...env });
  const gateway = await buildGateway(config, { layer, firehose, backend, ...deps });
  await gateway.app.ready();
  return {
    gateway,
    backend,
    layer,
    firehose,
    async close() {
      await gateway.stop();
      await firehose.close();
      await layer.close();
    },
  };
}

/** The session cookie of a response, as `name=value` for the next request. */
export function sessionCookie(response: { cookies: Array<{ name: string; value: string }> }): string {
  const cookie = response.cookies.find((c) => c.name === "boxoffice_session");
  if (!cookie) throw new Error("expected a session cookie in the response");
  return `${cookie.name}=${encodeURIComponent(cookie.value)}`;
}

// Every method a service serves has a contract in @boxoffice/contracts, and every contract is
// served by the service its name points at. Services are found on disk (services/*), so a new
// service is checked as soon as it exports its `build<Name>Service` and `<name>ConfigSchema`.
import { createInMemoryChannelLayer, createInMemoryFirehose } from "@boxoffice/bus";
import * as contracts from "@boxoffice/contracts";
import { createLogger } from "@boxoffice/runtime";
import { disposeEmbeddedDatabase, singleShardMap } from "@boxoffice/sharding";
import { uniqueName } from "@boxoffice/testkit";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { z } from "zod";

const root = join(import.meta.dirname, "..", "..");

interface BuiltService {
  start(): Promise<unknown>;
  stop(): Promise<void>;
  servedMethods(): string[];
}

interface ServiceModule {
  name: string;
  build: (config: unknown, deps: unknown) => BuiltService;
  schema: z.ZodType;
}

function isMethodDef(value: unknown): value is { name: string; service: string } {
  return (
    typeof value === "object" &&
    value !== null &&
    typeof (value as { name?: unknown }).name === "string" &&
    typeof (value as { service?: unknown }).service === "string" &&
    typeof (value as { request?: { safeParse?: unknown } }).request?.safeParse === "function" &&
    typeof (value as { response?: { safeParse?: unknown } }).response?.safeParse === "function"
  );
}

const contractNames = [...new Set((Object.values(contracts) as unknown[]).filter(isMethodDef).map((m) => m.name))].sort();

async function discoverServices(): Promise<ServiceModule[]> {
  const found: ServiceModule[] = [];
  for (const dir of readdirSync(join(root, "services")).sort()) {
    const manifest = join(root, "services", dir, "package.json");
    if (!existsSync(manifest)) continue;
    const pkg = JSON.parse(readFileSync(manifest, "utf8")) as { name: string; nx?: { tags?: string[] } };
    if (!pkg.nx?.tags?.includes("type:service")) continue;
    const mod = (await import(pkg.name)) as Record<string, unknown>;
    const build = Object.entries(mod).find(([key, value]) => /^build[A-Z]\w*Service$/.test(key) && typeof value === "function");
    const schema = mod[`${dir}ConfigSchema`];
    if (!build || !schema) continue;
    found.push({ name: dir, build: build[1] as ServiceModule["build"], schema: schema as z.ZodType });
  }
  return found;
}

const services = await discoverServices();
const databaseUrl = `pglite://memory/${uniqueName("contracts_served")}`;
afterAll(async () => {
  await disposeEmbeddedDatabase(databaseUrl);
});

describe("contracts and served methods", () => {
  it("finds the services that exist (users and events at least)", () => {
    expect(services.map((s) => s.name)).toEqual(expect.arrayContaining(["users", "events"]));
  });

  it("when every service is started, each serves exactly the methods its contracts name", async () => {
    const layer = createInMemoryChannelLayer();
    const firehose = createInMemoryFirehose();
    const logger = createLogger({ service: "contracts-test", level: "silent" });
    const started: BuiltService[] = [];
    const mismatches: string[] = [];
    try {
      for (const service of services) {
        const config = service.schema.parse({ BUS_URL: "memory://", FIREHOSE_URL: "memory://", MIGRATE_ON_START: "true", SEED_DEMO: "false", LOG_LEVEL: "silent" });
        const built = service.build(config, { layer, firehose, logger, shardMap: singleShardMap(databaseUrl, { name: `${service.name}-0` }) });
        await built.start();
        started.push(built);
        const served = [...new Set(built.servedMethods())].sort();
        const promised = contractNames.filter((name) => name.startsWith(`${service.name}.`));
        for (const name of served) if (!promised.includes(name)) mismatches.push(`${service.name} serves ${name}, which has no contract`);
        for (const name of promised) if (!served.includes(name)) mismatches.push(`contract ${name} is not served by ${service.name}`);
      }
      const owners = new Set(services.map((s) => s.name));
      for (const name of contractNames) {
        const owner = name.split(".")[0];
        if (!owners.has(owner)) mismatches.push(`contract ${name} names a service "${owner}" that does not exist`);
      }
    } finally {
      for (const built of started.reverse()) await built.stop();
      await firehose.close();
      await layer.close();
    }
    expect(mismatches).toEqual([]);
  });
});

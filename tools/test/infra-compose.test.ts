// docker-compose is checked without a Docker engine: every service is there with its replicas,
// sets only variables its zod config schema knows (and every required one, with values the schema
// accepts), waits for healthy dependencies, and the files it mounts (shard maps, nginx, init SQL)
// agree with it.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { MAX_NODE_ID, parseShardMap } from "@boxoffice/sharding";
import { beforeAll, describe, expect, it } from "vitest";
import {
  BUS_SERVICES,
  COMPOSE_FILE,
  composeEnvironment,
  DRIVER_ENV,
  imageEnv,
  interpolateDefaults,
  isObject,
  loadCompose,
  loadConfigSchema,
  parseDockerfile,
  readText,
  ROOT,
  SERVICES,
  type ConfigSchemaInfo,
  type JsonObject,
  type ServiceName,
} from "./infra-support.ts";

const composeDir = join(ROOT, "infra", "compose");
const compose = loadCompose();
const services = compose.services as Record<string, JsonObject>;
const dockerfile = parseDockerfile(readText("infra/Dockerfile"));
const finalStage = dockerfile.stages[dockerfile.stages.length - 1];

/** Compose services that run one of our images, by the SERVICE build argument. */
function appServices(service: ServiceName): Array<[string, JsonObject]> {
  return Object.entries(services).filter(([, definition]) => {
    const build = definition.build as JsonObject | undefined;
    return isObject(build) && (build.args as JsonObject | undefined)?.SERVICE === service;
  });
}

function instances(definition: JsonObject): number {
  const deploy = definition.deploy as JsonObject | undefined;
  return typeof deploy?.replicas === "number" ? deploy.replicas : 1;
}

function dependsOn(definition: JsonObject): Record<string, string> {
  const deps = definition.depends_on;
  if (Array.isArray(deps)) return Object.fromEntries(deps.map((name) => [String(name), "service_started"]));
  if (!isObject(deps)) return {};
  return Object.fromEntries(Object.entries(deps).map(([name, value]) => [name, String((value as JsonObject).condition ?? "service_started")]));
}

/** Host path and container path of a bind mount written "host:container[:mode]". */
function bindMounts(definition: JsonObject): Array<{ host: string; container: string }> {
  return ((definition.volumes ?? []) as string[])
    .filter((volume) => typeof volume === "string" && volume.startsWith("."))
    .map((volume) => {
      const [host, container] = volume.split(":");
      return { host: join(composeDir, host), container };
    });
}

function hostsOf(urls: string): string[] {
  return urls.split(",").map((url) => new URL(url.trim()).hostname);
}

const initSql = bindMounts(services.postgres ?? {}).filter((m) => m.container.startsWith("/docker-entrypoint-initdb.d/")).map((m) => readFileSync(m.host, "utf8")).join("\n");
const createdDatabases = new Set([...initSql.matchAll(/CREATE DATABASE\s+"?(\w+)"?/gi)].map((m) => m[1]));

describe(COMPOSE_FILE, () => {
  it("when a user runs `docker compose up`, Redis, Postgres, every service, two gateways and the load balancer start", () => {
    expect(Object.keys(services)).toEqual(expect.arrayContaining(["redis", "postgres", "lb"]));
    for (const service of SERVICES) expect(appServices(service).length, `${service} is in the compose file`).toBeGreaterThan(0);
  });

  it("when it starts, every service runs at least two instances", () => {
    for (const service of SERVICES) {
      const count = appServices(service).reduce((sum, [, definition]) => sum + instances(definition), 0);
      expect(count, `${service} instances`).toBeGreaterThanOrEqual(2);
    }
  });

  it("when instances of one service mint ids at once, each has its own NODE_ID within the id format's range", () => {
    for (const service of BUS_SERVICES) {
      const ids = appServices(service).map(([, definition]) => composeEnvironment(definition).NODE_ID);
      expect(new Set(ids).size, `${service} NODE_IDs ${ids.join(", ")}`).toBe(ids.length);
      for (const id of ids) expect(Number(id), `${service} NODE_ID`).toBeLessThanOrEqual(MAX_NODE_ID);
    }
  });

  it("when images are built, each is boxoffice/<service> from infra/Dockerfile with the repository as context", () => {
    for (const service of SERVICES) {
      for (const [name, definition] of appServices(service)) {
        expect(String(definition.image), name).toMatch(new RegExp(`^boxoffice/${service}:`));
        const build = definition.build as JsonObject;
        expect(join(composeDir, String(build.context)), name).toBe(ROOT);
        expect(build.dockerfile, name).toBe("infra/Dockerfile");
      }
    }
  });

  it("when a container starts, what it depends on is already healthy", () => {
    for (const [name, definition] of Object.entries(services)) {
      const hasCheck = isObject(definition.healthcheck) || (isObject(definition.build) && finalStage.instructions.some((i) => i.keyword === "HEALTHCHECK"));
      expect(hasCheck, `${name} has a health check`).toBe(true);
    }
    for (const service of BUS_SERVICES) {
      for (const [name, definition] of appServices(service)) {
        expect(dependsOn(definition), name).toMatchObject({ redis: "service_healthy", postgres: "service_healthy" });
      }
    }
    for (const [name, definition] of appServices("gateway")) {
      const deps = dependsOn(definition);
      for (const service of BUS_SERVICES) {
        for (const [dependency] of appServices(service)) expect(deps[dependency], `${name} waits for ${dependency}`).toBe("service_healthy");
      }
    }
    const lbDeps = dependsOn(services.lb);
    for (const [gateway] of appServices("gateway")) expect(lbDeps[gateway], `lb waits for ${gateway}`).toBe("service_healthy");
  });

  it("when services connect to Redis, each logs in as its own ACL user with a password from .env, the bus is encrypted and callers prove who they are", () => {
    const raw = readText(COMPOSE_FILE);
    const command = ((services.redis.command ?? []) as string[]).map(String);
    expect(command, "redis-server asks for a password").toContain("--requirepass");
    for (const service of SERVICES) {
      const rule = command.indexOf(service, command.indexOf("--user"));
      expect(command[rule - 1], `redis-server defines the ACL user ${service}`).toBe("--user");
      expect(command.slice(rule, rule + 8), `${service}'s ACL user has no admin commands`).toContain("-@dangerous");
      for (const [name, definition] of appServices(service)) {
        const env = composeEnvironment(definition);
        for (const key of ["BUS_URL", "FIREHOSE_URL"]) {
          const url = new URL(env[key]);
          expect(url.username, `${name} ${key} user`).toBe(service);
          expect(url.password.length, `${name} ${key} has a password`).toBeGreaterThan(0);
        }
        expect(env.BUS_ENCRYPTION_KEYS, `${name} encrypts the bus`).toBeTruthy();
        expect(env.SERVICE_IDENTITY_SECRET, `${name} proves its identity`).toBeTruthy();
        expect(env.SERVICE_IDENTITIES, `${name} checks its callers`).toContain(`${service}=`);
      }
    }
    // Secrets are never written into the file, only required from .env: ${NAME:?message}.
    for (const secret of ["BUS_ENCRYPTION_KEYS", "SERVICE_IDENTITIES", "INVENTORY_SERVICE_IDENTITY_SECRET", "SESSION_KEYS", "REDIS_PASSWORD", "POSTGRES_PASSWORD", "INVENTORY_HASH_SECRET", "PAYMENTS_HASH_SECRET"]) {
      expect(raw, `${secret} is required from .env`).toMatch(new RegExp(`\\$\\{${secret}:\\?`));
      expect(raw, `${secret} has no default in the compose file`).not.toMatch(new RegExp(`\\$\\{${secret}:-`));
    }
  });

  it("when services connect, the bus and firehose URLs name the compose Redis", () => {
    for (const service of SERVICES) {
      for (const [name, definition] of appServices(service)) {
        const env = composeEnvironment(definition);
        for (const key of ["BUS_URL", "FIREHOSE_URL"]) {
          expect(env[key], `${name} sets ${key}`).toBeTruthy();
          for (const host of hostsOf(env[key])) expect(Object.keys(services), `${name} ${key} host`).toContain(host);
        }
      }
    }
  });

  describe.each(BUS_SERVICES)("the %s shard map", (service) => {
    it("when mounted, it validates with @boxoffice/sharding and every database it names is created by the init SQL on the compose Postgres", () => {
      for (const [name, definition] of appServices(service)) {
        const env = composeEnvironment(definition);
        expect(env.SHARD_MAP_FILE, `${name} sets SHARD_MAP_FILE`).toBeTruthy();
        const mount = bindMounts(definition).find((m) => m.container === env.SHARD_MAP_FILE);
        expect(mount, `${name} mounts ${env.SHARD_MAP_FILE}`).toBeDefined();
        const map = parseShardMap(readFileSync(mount!.host, "utf8"));
        expect(map.shards.length, "physical shards").toBeGreaterThanOrEqual(2);
        for (const shard of map.shards) {
          for (const url of [shard.primary, ...shard.replicas]) {
            const parsed = new URL(url);
            expect(Object.keys(services)).toContain(parsed.hostname);
            expect(parsed.password, "passwords come from PGPASSWORD, not the map").toBe("");
            expect(createdDatabases).toContain(parsed.pathname.slice(1));
          }
        }
      }
    });
  });

  describe.each(SERVICES)("the %s environment", (service) => {
    let config: ConfigSchemaInfo;
    beforeAll(async () => {
      config = await loadConfigSchema(service);
    });

    it("when compose sets a variable, the service's config schema knows it, and every required one is set", () => {
      for (const [name, definition] of appServices(service)) {
        const env = composeEnvironment(definition);
        const unknown = Object.keys(env).filter((key) => !config.keys.has(key) && !(key in DRIVER_ENV));
        expect(unknown, `${name} sets variables ${service}ConfigSchema does not know`).toEqual([]);
        const missing = [...config.required].filter((key) => !(key in env) && !(key in imageEnv(finalStage, { SERVICE: service })));
        expect(missing, `${name} leaves required variables unset`).toEqual([]);
      }
    });

    it("when the container starts, its whole environment (image and compose) parses with the service's config schema", () => {
      for (const [name, definition] of appServices(service)) {
        const env = { ...imageEnv(finalStage, { SERVICE: service }), ...composeEnvironment(definition) };
        const result = config.schema.safeParse(env);
        expect(result.success ? [] : result.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`), name).toEqual([]);
      }
    });
  });

  it("when the load balancer starts, nginx sends every path to each gateway's port and passes WebSocket upgrades", () => {
    const mount = bindMounts(services.lb).find((m) => m.container === "/etc/nginx/nginx.conf");
    expect(mount && existsSync(mount.host), "lb mounts an nginx.conf").toBe(true);
    const conf = readFileSync(mount!.host, "utf8").replace(/#.*$/gm, "");
    const upstream = [...conf.matchAll(/^\s*server\s+([\w.-]+):(\d+)/gm)].map((m) => ({ host: m[1], port: m[2] }));
    const gateways = appServices("gateway");
    expect(upstream.map((u) => u.host).sort()).toEqual(gateways.map(([name]) => name).sort());
    for (const { host, port } of upstream) {
      const env = { ...imageEnv(finalStage, { SERVICE: "gateway" }), ...composeEnvironment(services[host]) };
      expect(port, `${host} listens on PORT`).toBe(env.PORT);
    }
    expect(conf).toMatch(/proxy_set_header\s+Upgrade\s+\$http_upgrade/);
    expect(conf).toMatch(/proxy_set_header\s+Connection\s+\$connection_upgrade/);
    expect(conf, "no sticky sessions").not.toMatch(/\b(ip_hash|sticky|hash\s)/);
    const listen = /^\s*listen\s+(\d+)/m.exec(conf)?.[1];
    const published = ((services.lb.ports ?? []) as string[]).map((p) => interpolateDefaults(String(p)).split(":").at(-1));
    expect(published).toContain(listen);
  });
});

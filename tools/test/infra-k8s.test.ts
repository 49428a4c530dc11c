// The Kubernetes manifests, rendered per overlay the way `kubectl kustomize` renders them, checked
// without a cluster: every service is deployed with probes on real endpoints, resources, a
// disruption budget and enough replicas; the gateway and inventory autoscale; environment
// variables are ones the services' zod config schemas know (keys from Secrets); shard maps
// validate; image names and ports agree with docker-compose.
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { MAX_NODE_ID, parseShardMap } from "@boxoffice/sharding";
import { REQUIRE_SERVICES } from "@boxoffice/testkit";
import { parseAllDocuments } from "yaml";
import { beforeAll, describe, expect, it } from "vitest";
import {
  BUS_SERVICES,
  containersOf,
  DRIVER_ENV,
  find,
  HEALTHCHECK_SCRIPT,
  imageEnv,
  isObject,
  K8S_DIR,
  loadCompose,
  loadConfigSchema,
  loadYamlDocuments,
  OVERLAYS,
  parseDockerfile,
  podSpec,
  readText,
  renderKustomization,
  ROOT,
  isSecretVariable,
  SERVICES,
  yamlFilesUnder,
  type ConfigSchemaInfo,
  type Container,
  type JsonObject,
  type K8sObject,
  type ServiceName,
} from "./infra-support.ts";

const dockerfile = parseDockerfile(readText("infra/Dockerfile"));
const finalStage = dockerfile.stages[dockerfile.stages.length - 1];

/** Secrets created outside git in an overlay (prod), with the keys docs/operations.md tells operators to set. */
const EXTERNAL_SECRETS: Record<string, Record<string, string[]>> = {
  prod: {
    "boxoffice-secrets": [
      "SESSION_KEYS", "USERS_SIGNING_KEYS", "INVENTORY_HASH_SECRET", "PAYMENTS_HASH_SECRET", "BUS_ENCRYPTION_KEYS",
      "REDIS_USERS_PASSWORD", "REDIS_EVENTS_PASSWORD", "REDIS_INVENTORY_PASSWORD", "REDIS_PAYMENTS_PASSWORD", "REDIS_GATEWAY_PASSWORD",
      "USERS_SERVICE_IDENTITY_SECRET", "EVENTS_SERVICE_IDENTITY_SECRET", "INVENTORY_SERVICE_IDENTITY_SECRET", "PAYMENTS_SERVICE_IDENTITY_SECRET",
      "GATEWAY_SERVICE_IDENTITY_SECRET", "SERVICE_IDENTITIES", "IDENTITY_TRUSTED_JWKS", "ADMISSION_KEYS",
    ],
    // One basic-auth Secret per service's database role (postgres-clusters.yaml).
    ...Object.fromEntries(BUS_SERVICES.map((service) => [`boxoffice-db-${service}`, ["password"]])),
  },
};

const POD_INDEX = "metadata.labels['apps.kubernetes.io/pod-index']";

interface EnvVar extends JsonObject {
  name: string;
}

/** The value an env entry resolves to in the rendered overlay (undefined for an external Secret). */
function resolveEnv(objects: K8sObject[], overlay: string, variable: EnvVar): { value: string | undefined; source: "value" | "configMap" | "secret" | "pod" } {
  if (typeof variable.value === "string") return { value: variable.value, source: "value" };
  const from = variable.valueFrom as JsonObject;
  if (isObject(from.fieldRef)) {
    // Only the StatefulSet ordinal is used (NODE_ID); the first pod's is 0.
    expect((from.fieldRef as JsonObject).fieldPath).toBe(POD_INDEX);
    return { value: "0", source: "pod" };
  }
  if (isObject(from.configMapKeyRef)) {
    const { name, key } = from.configMapKeyRef as { name: string; key: string };
    const data = find(objects, "ConfigMap", name).data as Record<string, string>;
    if (!(key in data)) throw new Error(`ConfigMap ${name} has no key ${key} (env ${variable.name})`);
    return { value: data[key], source: "configMap" };
  }
  if (isObject(from.secretKeyRef)) {
    const { name, key } = from.secretKeyRef as { name: string; key: string };
    const secret = objects.find((o) => o.kind === "Secret" && o.metadata.name === name);
    if (secret) {
      const data = (secret.data ?? {}) as Record<string, string>;
      if (!(key in data)) throw new Error(`Secret ${name} has no key ${key} (env ${variable.name})`);
      return { value: data[key], source: "secret" };
    }
    const external = EXTERNAL_SECRETS[overlay]?.[name];
    if (!external?.includes(key)) throw new Error(`env ${variable.name} reads Secret ${name}/${key}, which the ${overlay} overlay neither generates nor documents`);
    return { value: undefined, source: "secret" };
  }
  throw new Error(`env ${variable.name} has neither value nor a configMapKeyRef/secretKeyRef`);
}

function envOf(container: Container): EnvVar[] {
  return (container.env ?? []) as EnvVar[];
}

/** A Deployment's matchLabels select its own pods, and the ones a PDB/Service selects. */
function selects(selector: JsonObject, labels: JsonObject): boolean {
  const match = (isObject(selector.matchLabels) ? selector.matchLabels : selector) as Record<string, string>;
  return Object.entries(match).every(([key, value]) => labels[key] === value);
}

function podLabels(deployment: K8sObject): JsonObject {
  return ((deployment.spec as JsonObject).template as { metadata: { labels: JsonObject } }).metadata.labels;
}

let kubectl = false;
try {
  execFileSync("kubectl", ["version", "--client"], { stdio: "ignore" });
  kubectl = true;
} catch {
  kubectl = false;
}
// CI installs kubectl (tools/ensure-services.sh): there, rendering the overlays must not silently skip.
if (!kubectl) {
  if (REQUIRE_SERVICES) throw new Error("REQUIRE_SERVICES=1 but kubectl is not installed (tools/ensure-services.sh installs it): the overlays cannot be rendered");
  console.warn("[skip] kubectl is not installed: rendering the overlays with it is skipped");
}

describe("infra/k8s", () => {
  it("when every YAML file is parsed, each document is valid YAML and every manifest names its kind", () => {
    const files = yamlFilesUnder(K8S_DIR);
    expect(files.length).toBeGreaterThan(5);
    for (const file of files) {
      const docs = loadYamlDocuments(file);
      for (const doc of docs) {
        expect(isObject(doc), file).toBe(true);
        const object = doc as JsonObject;
        expect(typeof (object.kind ?? object.resources ?? object.configMapGenerator), `${file} names a kind (or is a kustomization)`).not.toBe("undefined");
      }
    }
  });

  it("when the layout is read, there is a kustomize base and the overlays dev and prod", () => {
    expect(existsSync(join(K8S_DIR, "base", "kustomization.yaml"))).toBe(true);
    expect(OVERLAYS).toEqual(expect.arrayContaining(["dev", "prod"]));
  });

  it.skipIf(!kubectl)("when kubectl renders each overlay, it yields the same objects and environment names as these checks read", () => {
    for (const overlay of OVERLAYS) {
      const rendered = execFileSync("kubectl", ["kustomize", join(K8S_DIR, "overlays", overlay)], { encoding: "utf8" });
      const theirs = parseAllDocuments(rendered).map((d) => d.toJS() as K8sObject);
      const ours = renderKustomization(join(K8S_DIR, "overlays", overlay));
      // Generated ConfigMaps and Secrets get a content hash suffix from kubectl.
      const key = (o: K8sObject) => `${o.kind}/${o.metadata.name.replace(/-[a-z0-9]{10}$/, (m) => (o.kind === "ConfigMap" || o.kind === "Secret" ? "" : m))}`;
      expect(theirs.map(key).sort(), overlay).toEqual(ours.map(key).sort());
      for (const object of ours.filter((o) => o.kind === "Deployment" || o.kind === "StatefulSet")) {
        const other = theirs.find((o) => o.kind === object.kind && o.metadata.name === object.metadata.name)!;
        const names = (o: K8sObject) => containersOf(o).map((c) => `${c.name}:${c.image}:${envOf(c).map((e) => e.name).sort().join(",")}`);
        expect(names(other), `${overlay} ${object.metadata.name}`).toEqual(names(object));
        // Volumes the patches add (the prod clusters' CAs) mount where these checks read them.
        const mounts = (o: K8sObject) => containersOf(o).map((c) => ((c.volumeMounts ?? []) as JsonObject[]).map((m) => JSON.stringify([m.name, m.mountPath, m.readOnly ?? false])).sort());
        const secretVolumes = (o: K8sObject) => ((podSpec(o).volumes ?? []) as JsonObject[]).filter((v) => isObject(v.secret)).map((v) => {
          const secret = v.secret as { secretName: string; items?: Array<{ key: string; path: string }> };
          return JSON.stringify([v.name, secret.secretName, (secret.items ?? []).map((i) => `${i.key}=${i.path}`)]);
        }).sort();
        expect(mounts(other), `${overlay} ${object.metadata.name} volumeMounts`).toEqual(mounts(object));
        expect(secretVolumes(other), `${overlay} ${object.metadata.name} Secret volumes`).toEqual(secretVolumes(object));
        expect((other.spec as JsonObject).replicas, `${overlay} ${object.metadata.name} replicas`).toEqual((object.spec as JsonObject).replicas);
      }
    }
    // kubectl kustomize takes seconds per overlay on a loaded machine.
  }, 60_000);
});

describe.each(OVERLAYS)("the %s overlay", (overlay) => {
  const objects = renderKustomization(join(K8S_DIR, "overlays", overlay));
  // Bus services are StatefulSets (for the ordinal behind NODE_ID); the gateway is a Deployment.
  const deployment = (service: ServiceName) => find(objects, service === "gateway" ? "Deployment" : "StatefulSet", service);
  const container = (service: ServiceName) => containersOf(deployment(service)).find((c) => c.name === service)!;

  it("when applied, every service has a Deployment running its own image", () => {
    for (const service of SERVICES) {
      expect(container(service), `${service} container`).toBeDefined();
      expect(container(service).image).toMatch(new RegExp(`^boxoffice/${service}:[\\w.-]+$`));
    }
  });

  it("when applied, every service runs at least two pods, and the gateway and inventory autoscale", () => {
    for (const service of SERVICES) {
      const hpa = objects.find((o) => o.kind === "HorizontalPodAutoscaler" && ((o.spec as JsonObject).scaleTargetRef as JsonObject).name === service);
      const replicas = (deployment(service).spec as JsonObject).replicas as number | undefined;
      const minimum = hpa ? ((hpa.spec as JsonObject).minReplicas as number) : (replicas ?? 1);
      expect(minimum, `${service} pods`).toBeGreaterThanOrEqual(2);
      if (service === "gateway" || service === "inventory") {
        expect(hpa, `${service} has a HorizontalPodAutoscaler`).toBeDefined();
        const target = (hpa!.spec as JsonObject).scaleTargetRef as JsonObject;
        expect(target).toMatchObject({ kind: deployment(service).kind, apiVersion: "apps/v1" });
        expect((hpa!.spec as JsonObject).maxReplicas as number).toBeGreaterThan(minimum);
      }
    }
  });

  it("when pods of one service mint ids at once, each has its own NODE_ID (its ordinal), and there are never more pods than node ids", () => {
    for (const service of BUS_SERVICES) {
      const nodeId = envOf(container(service)).find((e) => e.name === "NODE_ID");
      expect(((nodeId?.valueFrom as JsonObject | undefined)?.fieldRef as JsonObject | undefined)?.fieldPath, `${service} NODE_ID`).toBe(POD_INDEX);
      const hpa = objects.find((o) => o.kind === "HorizontalPodAutoscaler" && ((o.spec as JsonObject).scaleTargetRef as JsonObject).name === service);
      const most = hpa ? ((hpa.spec as JsonObject).maxReplicas as number) : ((deployment(service).spec as JsonObject).replicas as number);
      expect(most, `${service} pods at most`).toBeLessThanOrEqual(MAX_NODE_ID + 1);
    }
  });

  it("when a node is drained, a PodDisruptionBudget keeps at least one pod of every service", () => {
    for (const service of SERVICES) {
      const labels = podLabels(deployment(service));
      const pdbs = objects.filter((o) => o.kind === "PodDisruptionBudget" && selects((o.spec as JsonObject).selector as JsonObject, labels));
      expect(pdbs.length, `${service} PDB`).toBe(1);
      const spec = pdbs[0].spec as JsonObject;
      expect(Number(spec.minAvailable ?? 0) >= 1 || spec.maxUnavailable !== undefined, `${service} PDB keeps pods`).toBe(true);
    }
  });

  it("when scheduled, every container has resource requests and limits and runs as non-root without privilege escalation", () => {
    for (const object of objects.filter((o) => o.kind === "Deployment" || o.kind === "StatefulSet")) {
      for (const c of containersOf(object)) {
        const resources = c.resources as JsonObject | undefined;
        for (const part of ["requests", "limits"]) {
          expect(isObject(resources?.[part]) && "cpu" in (resources![part] as JsonObject) && "memory" in (resources![part] as JsonObject), `${object.metadata.name}/${c.name} ${part}`).toBe(true);
        }
      }
    }
    for (const service of SERVICES) {
      expect((podSpec(deployment(service)).securityContext as JsonObject).runAsNonRoot, service).toBe(true);
      expect((container(service).securityContext as JsonObject).allowPrivilegeEscalation, service).toBe(false);
    }
  });

  it("when the gateway is probed, readiness asks /readyz and liveness /healthz on the port it listens on (PORT)", () => {
    const gateway = container("gateway");
    const port = resolveEnv(objects, overlay, envOf(gateway).find((e) => e.name === "PORT")!).value;
    const ports = (gateway.ports ?? []) as Array<{ name?: string; containerPort: number }>;
    const portOf = (ref: string | number) => (typeof ref === "number" ? ref : ports.find((p) => p.name === ref)?.containerPort);
    const readiness = (gateway.readinessProbe as JsonObject).httpGet as { path: string; port: string | number };
    const liveness = (gateway.livenessProbe as JsonObject).httpGet as { path: string; port: string | number };
    expect(readiness.path).toBe("/readyz");
    expect(liveness.path).toBe("/healthz");
    expect(String(portOf(readiness.port))).toBe(port);
    expect(String(portOf(liveness.port))).toBe(port);
  });

  it("when a bus-only service is probed, both probes run the shipped health check script for that service", () => {
    for (const service of BUS_SERVICES) {
      for (const probe of ["readinessProbe", "livenessProbe"]) {
        const command = ((container(service)[probe] as JsonObject).exec as { command: string[] }).command;
        expect(command.slice(0, 2), `${service} ${probe}`).toEqual(["node", HEALTHCHECK_SCRIPT]);
        expect(command[command.indexOf("--service") + 1], `${service} ${probe}`).toBe(service);
      }
      expect(((container(service).livenessProbe as JsonObject).exec as { command: string[] }).command).toContain("--liveness");
    }
    expect(existsSync(join(ROOT, HEALTHCHECK_SCRIPT))).toBe(true);
  });

  it("when traffic arrives, the Ingress routes every path to the gateway Service's port without affinity and with WebSocket timeouts", () => {
    const service = find(objects, "Service", "gateway");
    const spec = service.spec as JsonObject;
    expect(spec.sessionAffinity ?? "None").toBe("None");
    expect(selects(spec.selector as JsonObject, podLabels(deployment("gateway")))).toBe(true);
    const servicePorts = spec.ports as Array<{ name: string; port: number; targetPort: string | number }>;
    const containerPorts = (container("gateway").ports ?? []) as Array<{ name: string }>;
    for (const p of servicePorts) expect(containerPorts.map((c) => c.name), "Service targetPort names a container port").toContain(p.targetPort);
    const ingresses = objects.filter((o) => o.kind === "Ingress");
    expect(ingresses.length).toBeGreaterThan(0);
    for (const ingress of ingresses) {
      const annotations = (ingress.metadata.annotations ?? {}) as Record<string, string>;
      expect(Object.keys(annotations).filter((k) => /affinity|sticky|session-cookie/.test(k)), "sticky-free").toEqual([]);
      expect(Number(annotations["nginx.ingress.kubernetes.io/proxy-read-timeout"]), "WebSocket read timeout (s)").toBeGreaterThanOrEqual(300);
      const rules = (ingress.spec as JsonObject).rules as Array<{ http: { paths: Array<{ path: string; backend: { service: { name: string; port: { name?: string; number?: number } } } }> } }>;
      for (const path of rules.flatMap((r) => r.http.paths)) {
        expect(path.backend.service.name).toBe("gateway");
        const port = path.backend.service.port;
        expect(servicePorts.some((p) => p.name === port.name || p.port === port.number), "Ingress port exists on the Service").toBe(true);
      }
    }
  });

  it("when a service reads its shard map, the ConfigMap mounted at SHARD_MAP_FILE validates with @boxoffice/sharding", () => {
    for (const service of BUS_SERVICES) {
      const file = envOf(container(service)).find((e) => e.name === "SHARD_MAP_FILE")?.value as string;
      expect(file, `${service} SHARD_MAP_FILE`).toBeTruthy();
      const mounts = (container(service).volumeMounts ?? []) as Array<{ name: string; mountPath: string }>;
      const mount = mounts.find((m) => file.startsWith(`${m.mountPath}/`));
      expect(mount, `${service} mounts ${file}`).toBeDefined();
      const volume = (podSpec(deployment(service)).volumes as Array<{ name: string; configMap?: { name: string } }>).find((v) => v.name === mount!.name);
      const data = find(objects, "ConfigMap", volume!.configMap!.name).data as Record<string, string>;
      const key = file.slice(mount!.mountPath.length + 1);
      const map = parseShardMap(data[key]);
      expect(map.shards.length, `${service} physical shards`).toBeGreaterThanOrEqual(2);
      for (const shard of map.shards) {
        for (const url of [shard.primary, ...shard.replicas]) expect(new URL(url).password, "no password in a ConfigMap").toBe("");
      }
    }
  });

  it("when the services connect to Redis, each is its own ACL user with a password, bus key and service identity from the Secret", () => {
    for (const service of SERVICES) {
      const env = envOf(container(service));
      expect(env.find((e) => e.name === "REDIS_USERNAME")?.value, `${service} REDIS_USERNAME`).toBe(service);
      for (const name of ["REDIS_PASSWORD", "BUS_ENCRYPTION_KEYS", "SERVICE_IDENTITY_SECRET", "SERVICE_IDENTITIES", "IDENTITY_TRUSTED_JWKS"]) {
        const variable = env.find((e) => e.name === name);
        expect(variable, `${service} sets ${name}`).toBeDefined();
        expect(resolveEnv(objects, overlay, variable!).source, `${service} ${name}`).toBe("secret");
      }
    }
    const redis = objects.find((o) => o.kind === "StatefulSet" && o.metadata.name === "redis");
    if (redis) {
      const args = (containersOf(redis)[0].args ?? []) as string[];
      expect(args, "dev Redis asks for a password").toContain("--requirepass");
      for (const service of SERVICES) expect(args, `dev Redis defines the ACL user ${service}`).toContain(service);
    }
  });

  it.runIf(overlay === "prod")("when the public reaches production, the Ingress serves HTTPS only and /metrics and /docs stay inside", () => {
    const ingress = find(objects, "Ingress", "boxoffice");
    const spec = ingress.spec as { tls?: Array<{ secretName?: string }> };
    expect(spec.tls?.[0]?.secretName, "a TLS certificate").toBeTruthy();
    expect((ingress.metadata.annotations as Record<string, string>)["nginx.ingress.kubernetes.io/force-ssl-redirect"]).toBe("true");
    const config = find(objects, "ConfigMap", "boxoffice-config").data as Record<string, string>;
    expect(config.OPERATIONS_ALLOW).not.toBe("any");
    expect(config.SERVE_DOCS).toBe("false");
  });

  describe.runIf(overlay === "prod")("when the services reach production Postgres", () => {
    const clusters = objects.filter((o) => o.kind === "Cluster" && o.apiVersion.startsWith("postgresql.cnpg.io/"));
    const clusterSpec = (name: string) => clusters.find((c) => c.metadata.name === name)?.spec as JsonObject | undefined;
    const shardUrls = (service: (typeof BUS_SERVICES)[number]) => {
      const data = find(objects, "ConfigMap", "shard-maps").data as Record<string, string>;
      const map = parseShardMap(data[`${service}.json`]);
      return map.shards.flatMap((shard) => [shard.primary, ...shard.replicas]).map((url) => new URL(url));
    };
    /** The CNPG cluster behind a shard URL's host (its -rw, -ro or -r Service). */
    const clusterOf = (url: URL) => url.hostname.replace(/-(rw|ro|r)(\..*)?$/, "");
    const roleOf = (service: string) => `${service}_svc`;
    const postInitSql = (name: string) => (((clusterSpec(name)!.bootstrap as JsonObject).initdb as JsonObject).postInitSQL ?? []) as string[];

    it("when a service opens a shard, the URL asks for verify-full TLS against the CA of that shard's cluster, mounted read-only in the service's pods", () => {
      expect(clusters.length, "CloudNativePG clusters").toBeGreaterThanOrEqual(2);
      for (const service of BUS_SERVICES) {
        const mounts = (container(service).volumeMounts ?? []) as Array<{ name: string; mountPath: string; readOnly?: boolean; subPath?: string }>;
        const volumes = (podSpec(deployment(service)).volumes ?? []) as Array<{ name: string; secret?: { secretName: string; items?: Array<{ key: string; path: string }> } }>;
        for (const url of shardUrls(service)) {
          const where = `${service} ${url.hostname}${url.pathname}`;
          expect(url.searchParams.get("sslmode"), where).toBe("verify-full");
          const cluster = clusterOf(url);
          expect(clusterSpec(cluster), `${where}: a Cluster named ${cluster}`).toBeDefined();
          const rootCert = url.searchParams.get("sslrootcert");
          expect(rootCert, `${where} sslrootcert`).toMatch(/^\//);
          const mount = mounts.find((m) => rootCert!.startsWith(`${m.mountPath}/`));
          expect(mount, `${where}: ${rootCert} is in a mounted volume`).toBeDefined();
          expect(mount!.readOnly, `${where}: CA mounted read-only`).toBe(true);
          expect(mount!.subPath, `${where}: a whole-volume mount (a subPath would not follow a renewed CA)`).toBeUndefined();
          const volume = volumes.find((v) => v.name === mount!.name);
          expect(volume?.secret?.secretName, `${where}: the CA Secret CloudNativePG creates for ${cluster}`).toBe(`${cluster}-ca`);
          const file = rootCert!.slice(mount!.mountPath.length + 1);
          const key = volume!.secret!.items ? volume!.secret!.items.find((item) => item.path === file)?.key : file;
          expect(key, `${where}: ${file} is the Secret's ca.crt`).toBe("ca.crt");
        }
      }
    });

    it("when a service connects, it is its own login role (no superuser, createdb or createrole) whose password comes from its own Secret, the one the Cluster sets it from", () => {
      const secrets = new Set<string>();
      for (const service of BUS_SERVICES) {
        const pgPassword = envOf(container(service)).find((e) => e.name === "PGPASSWORD");
        const ref = (pgPassword?.valueFrom as JsonObject | undefined)?.secretKeyRef as { name: string; key: string } | undefined;
        expect(ref, `${service} PGPASSWORD from a Secret`).toBeDefined();
        expect(ref!.key, `${service} PGPASSWORD: the basic-auth password`).toBe("password");
        expect(resolveEnv(objects, overlay, pgPassword!).source).toBe("secret");
        secrets.add(ref!.name);
        const users = new Set(shardUrls(service).map((url) => decodeURIComponent(url.username)));
        expect([...users], `${service} shard map user`).toEqual([roleOf(service)]);
        for (const cluster of new Set(shardUrls(service).map(clusterOf))) {
          const roles = (((clusterSpec(cluster)!.managed as JsonObject | undefined)?.roles ?? []) as Array<JsonObject & { name: string }>);
          const role = roles.find((r) => r.name === roleOf(service));
          expect(role, `${cluster} manages the role ${roleOf(service)}`).toBeDefined();
          expect(role!.login, `${cluster} ${role!.name} login`).toBe(true);
          expect(role!.ensure ?? "present").toBe("present");
          for (const power of ["superuser", "createdb", "createrole", "replication", "bypassrls"]) expect(role![power] ?? false, `${cluster} ${role!.name} ${power}`).toBe(false);
          expect((role!.passwordSecret as JsonObject | undefined)?.name, `${cluster} ${role!.name}: password from the Secret ${service} reads`).toBe(ref!.name);
        }
      }
      expect(secrets.size, "a Secret per service").toBe(BUS_SERVICES.length);
    });

    it("when a cluster is created, each service's databases on it are owned by that service's role, and no other role may connect to them", () => {
      for (const service of BUS_SERVICES) {
        for (const url of shardUrls(service)) {
          const database = decodeURIComponent(url.pathname.slice(1));
          const statements = postInitSql(clusterOf(url)).map((s) => s.trim().replace(/\s+/g, " ").replace(/;$/, ""));
          const where = `${clusterOf(url)} ${database}`;
          const created = statements.filter((s) => new RegExp(`^CREATE DATABASE "?${database}"?( |$)`, "i").test(s));
          expect(created, `${where} created once`).toHaveLength(1);
          expect(created[0], `${where} owner`).toMatch(new RegExp(`OWNER "?${roleOf(service)}"?$`, "i"));
          expect(statements, `${where}: CONNECT not left to PUBLIC`).toEqual(expect.arrayContaining([expect.stringMatching(new RegExp(`^REVOKE (ALL|CONNECT)\\b.* ON DATABASE "?${database}"? FROM PUBLIC$`, "i"))]));
          const role = statements.findIndex((s) => new RegExp(`^CREATE ROLE "?${roleOf(service)}"?( |$)`, "i").test(s));
          expect(role, `${where}: the role exists before its database (managed roles are created after bootstrap)`).toBeGreaterThanOrEqual(0);
          expect(role).toBeLessThan(statements.indexOf(created[0]));
        }
      }
      for (const cluster of clusters) {
        expect(postInitSql(cluster.metadata.name).join("\n"), `${cluster.metadata.name}: no SUPERUSER, CREATEDB or CREATEROLE handed out`).not.toMatch(/\b(SUPERUSER|CREATEDB|CREATEROLE)\b/i);
      }
    });
  });

  it("when the services connect, keys and passwords come from Secrets, never from a ConfigMap or a literal", () => {
    for (const service of SERVICES) {
      for (const variable of envOf(container(service))) {
        if (!isSecretVariable(variable.name)) continue;
        expect(resolveEnv(objects, overlay, variable).source, `${service} ${variable.name}`).toBe("secret");
      }
    }
  });

  describe.each(SERVICES)("the %s environment", (service) => {
    let config: ConfigSchemaInfo;
    beforeAll(async () => {
      config = await loadConfigSchema(service);
    });

    it("when the Deployment sets a variable, the service's config schema knows it, and every required one is set", () => {
      const names = envOf(container(service)).map((e) => e.name);
      expect(names.filter((n) => !config.keys.has(n) && !(n in DRIVER_ENV)), "unknown to the schema").toEqual([]);
      const fromImage = imageEnv(finalStage, { SERVICE: service });
      expect([...config.required].filter((k) => !names.includes(k) && !(k in fromImage)), "required but unset").toEqual([]);
      expect(container(service).envFrom, "env is listed by name so it can be checked").toBeUndefined();
    });

    it("when the service's schema has a secret setting (key, secret, password), the manifest sets it from a Secret", () => {
      const names = envOf(container(service)).map((e) => e.name);
      expect([...config.keys].filter((key) => isSecretVariable(key) && !names.includes(key)), "secret settings left at their development default").toEqual([]);
    });

    it("when the pod starts, its whole environment parses with the service's config schema (Secrets the overlay does not ship are left out)", () => {
      const env: Record<string, string> = { ...imageEnv(finalStage, { SERVICE: service }) };
      const external: string[] = [];
      for (const variable of envOf(container(service))) {
        const { value } = resolveEnv(objects, overlay, variable);
        if (value === undefined) external.push(variable.name);
        else env[variable.name] = value;
      }
      const result = config.schema.safeParse(env);
      const issues = result.success ? [] : result.error.issues.filter((i) => !external.includes(String(i.path[0]))).map((i) => `${i.path.join(".")}: ${i.message}`);
      expect(issues).toEqual([]);
    });
  });
});

describe("compose and Kubernetes agree", () => {
  const compose = loadCompose();
  const services = compose.services as Record<string, JsonObject>;
  const base = renderKustomization(join(K8S_DIR, "base"));

  it("when both deploy a service, they use the same image name and the same gateway port", () => {
    for (const service of SERVICES) {
      const composeImages = Object.values(services).filter((s) => (s.build as JsonObject | undefined)?.args && ((s.build as JsonObject).args as JsonObject).SERVICE === service).map((s) => String(s.image).split(":")[0]);
      const k8sImages = containersOf(find(base, service === "gateway" ? "Deployment" : "StatefulSet", service)).map((c) => c.image.split(":")[0]);
      expect(new Set([...composeImages, ...k8sImages]), service).toEqual(new Set([`boxoffice/${service}`]));
    }
    const k8sPort = containersOf(find(base, "Deployment", "gateway"))[0].ports as Array<{ containerPort: number }>;
    const composeGateway = Object.values(services).find((s) => ((s.build as JsonObject | undefined)?.args as JsonObject | undefined)?.SERVICE === "gateway")!;
    expect(String(k8sPort[0].containerPort)).toBe(String((composeGateway.environment as JsonObject).PORT));
  });

  it("when the gateway is built with its build function, the paths its probes ask are real routes", async () => {
    const gateway = await import("@boxoffice/gateway");
    const config = (await loadConfigSchema("gateway")).schema.parse({ SESSION_KEYS: "a".repeat(64), SERVE_WEB: "false", LOG_LEVEL: "silent" });
    const build = Object.entries(gateway).find(([name, value]) => /^build\w*Gateway/.test(name) && typeof value === "function")?.[1] as
      | ((config: unknown, deps: unknown) => Promise<{ app: { inject(o: { method: string; url: string }): Promise<{ statusCode: number }>; close(): Promise<void> }; stop(): Promise<void> }>)
      | undefined;
    expect(build, "@boxoffice/gateway exports its build function").toBeDefined();
    const { createInMemoryChannelLayer } = await import("@boxoffice/bus");
    const layer = createInMemoryChannelLayer();
    const firehose = { subscribe: () => ({ close: async () => {} }) };
    const built = await build!(config, { layer, firehose });
    try {
      const gatewayContainer = containersOf(find(base, "Deployment", "gateway"))[0];
      const probePaths = ["readinessProbe", "livenessProbe"].map((probe) => ((gatewayContainer[probe] as JsonObject).httpGet as { path: string }).path);
      for (const path of probePaths) {
        const response = await built.app.inject({ method: "GET", url: path });
        expect(response.statusCode, `${path} is a route`).not.toBe(404);
      }
    } finally {
      await built.stop().catch(() => built.app.close());
      await layer.close();
    }
    // Importing and building the whole gateway takes seconds on a loaded machine.
  }, 30_000);
});

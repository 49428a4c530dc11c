// Loaders shared by the infra-*.test.ts files: the Dockerfile, docker-compose and the Kustomize
// overlays read the way Docker, Compose and kubectl read them (enough of it for these checks), and
// each service's zod config schema, the one source of truth for environment variable names.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { basename, join, resolve } from "node:path";
import { parse, parseAllDocuments } from "yaml";
import type { z } from "zod";

export const ROOT = resolve(import.meta.dirname, "..", "..");
export const INFRA = join(ROOT, "infra");

export const BUS_SERVICES = ["users", "events", "inventory", "payments"] as const;
export const SERVICES = [...BUS_SERVICES, "gateway"] as const;
export type ServiceName = (typeof SERVICES)[number];

/** The script every image runs as its health check (Docker HEALTHCHECK and Kubernetes exec probes). */
export const HEALTHCHECK_SCRIPT = "services/platform/src/distributed/healthcheck.ts";

/**
 * Variables a manifest may set that no service schema lists, each with the reason. Nothing else
 * may appear: a typo in a manifest would otherwise be silently ignored by the service.
 */
export const DRIVER_ENV: Record<string, string> = {
  PGPASSWORD: "read by the Postgres driver (pg), so shard maps (ConfigMaps) carry no password",
};

/**
 * Variables that hold keys or passwords: Kubernetes must take them from a Secret. Read from the
 * schemas by name, so a new secret setting in a service cannot be forgotten in the manifests;
 * the demo organiser's password is sample data, not a secret.
 */
export function isSecretVariable(name: string): boolean {
  return name === "PGPASSWORD" || (/(SECRET|_KEYS|PASSWORD)$/.test(name) && !name.startsWith("DEMO_"));
}

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

export function readText(path: string): string {
  return readFileSync(join(ROOT, path), "utf8");
}

export function isObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

// ---------------------------------------------------------------------------------------------
// Service config schemas

export interface ConfigSchemaInfo {
  service: ServiceName;
  schema: z.ZodType;
  /** Every variable name the schema knows. */
  keys: Set<string>;
  /** Variables with no default that must be set. */
  required: Set<string>;
}

const SERVICE_MODULES: Record<ServiceName, () => Promise<Record<string, unknown>>> = {
  users: () => import("@boxoffice/users"),
  events: () => import("@boxoffice/events"),
  inventory: () => import("@boxoffice/inventory"),
  payments: () => import("@boxoffice/payments"),
  gateway: () => import("@boxoffice/gateway"),
};


interface ZodInternals {
  shape?: Record<string, z.ZodType>;
  _zod?: { def?: { type?: string; in?: unknown; schema?: unknown } };
}

/** The object shape of a config schema, looking through pipes/transforms wrapped around it. */
export function objectShape(schema: unknown): Record<string, z.ZodType> {
  let current = schema as ZodInternals | undefined;
  for (let depth = 0; current && depth < 10; depth++) {
    if (current.shape) return current.shape;
    const def = current._zod?.def;
    current = (def?.in ?? def?.schema) as ZodInternals | undefined;
  }
  throw new Error("the config schema is not a zod object (no .shape found)");
}

/** Imports `<service>ConfigSchema` from the service package (an existing package must export it). */
export async function loadConfigSchema(service: ServiceName): Promise<ConfigSchemaInfo> {
  const module = await SERVICE_MODULES[service]();
  const schema = module[`${service}ConfigSchema`] as z.ZodType | undefined;
  if (!schema) throw new Error(`@boxoffice/${service} does not export ${service}ConfigSchema`);
  const shape = objectShape(schema);
  const keys = new Set(Object.keys(shape));
  const required = new Set(Object.entries(shape).filter(([, field]) => !field.safeParse(undefined).success).map(([key]) => key));
  return { service, schema, keys, required };
}

// ---------------------------------------------------------------------------------------------
// Dockerfile

export interface DockerStage {
  name: string | undefined;
  from: string;
  instructions: Array<{ keyword: string; args: string }>;
}

/** Splits the Dockerfile into stages of instructions (continuation lines joined, comments dropped). */
export function parseDockerfile(text: string): { args: Record<string, string>; stages: DockerStage[] } {
  const logical: string[] = [];
  let pending = "";
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (!pending && (line.startsWith("#") || line === "")) continue;
    if (line.startsWith("#")) continue;
    if (line.endsWith("\\")) {
      pending += `${line.slice(0, -1)} `;
      continue;
    }
    logical.push(pending + line);
    pending = "";
  }
  const args: Record<string, string> = {};
  const stages: DockerStage[] = [];
  for (const line of logical) {
    const match = /^(\w+)\s+(.*)$/.exec(line);
    if (!match) continue;
    const keyword = match[1].toUpperCase();
    const rest = match[2];
    if (keyword === "FROM") {
      const from = /^(\S+)(?:\s+AS\s+(\S+))?/i.exec(rest);
      stages.push({ from: from?.[1] ?? rest, name: from?.[2], instructions: [] });
    } else if (stages.length === 0) {
      if (keyword === "ARG") {
        const [name, value = ""] = rest.split("=");
        args[name.trim()] = value.trim();
      }
    } else {
      stages[stages.length - 1].instructions.push({ keyword, args: rest });
    }
  }
  return { args, stages };
}

/** ENV of the final stage, with ${ARG} references replaced by `buildArgs`. */
export function imageEnv(stage: DockerStage, buildArgs: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const { keyword, args } of stage.instructions) {
    if (keyword !== "ENV") continue;
    for (const match of args.matchAll(/(\w+)=("[^"]*"|\S+)/g)) {
      env[match[1]] = match[2].replace(/^"|"$/g, "").replace(/\$\{(\w+)\}/g, (_m, name: string) => buildArgs[name] ?? "");
    }
  }
  return env;
}

// ---------------------------------------------------------------------------------------------
// docker compose

export const COMPOSE_FILE = "infra/compose/docker-compose.yml";

/** Compose's `${NAME:-default}` / `${NAME-default}` / `${NAME}` interpolation, with nothing set. */
/** What `docker compose` reads from infra/compose/.env; the tests use the committed example. */
export const COMPOSE_ENV_EXAMPLE = "infra/compose/.env.example";

export function composeExampleEnv(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of readText(COMPOSE_ENV_EXAMPLE).split("\n")) {
    const match = /^([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (match) out[match[1]] = match[2];
  }
  return out;
}

/**
 * Compose's interpolation: `${X:-default}` / `${X-default}` take the default; `${X:?message}`
 * (a required secret) takes its value from .env.example, and a name missing there is an error.
 */
export function interpolateDefaults(value: string): string {
  // "$$" is a literal "$": split on it so its halves are never read as a reference.
  return value
    .split("$$")
    .map((part) =>
      part.replace(/\$\{(\w+)(?:(:?-)([^}]*)|(:?\?)([^}]*))?\}/g, (_m, name: string, dash?: string, fallback?: string, required?: string) => {
        if (required) {
          const example = composeExampleEnv()[name];
          if (example === undefined) throw new Error(`${name} is required by the compose file but ${COMPOSE_ENV_EXAMPLE} does not list it`);
          return example;
        }
        return dash ? (fallback ?? "") : "";
      }),
    )
    .join("$");
}

export function loadCompose(): JsonObject {
  const doc = parse(readText(COMPOSE_FILE), { merge: true }) as unknown;
  if (!isObject(doc)) throw new Error(`${COMPOSE_FILE} is not a mapping`);
  return doc;
}

/** The environment a compose service sets, as a plain map (list or mapping form). */
export function composeEnvironment(service: JsonObject): Record<string, string> {
  const env = service.environment;
  const out: Record<string, string> = {};
  if (Array.isArray(env)) {
    for (const item of env) {
      const [key, ...value] = String(item).split("=");
      out[key] = interpolateDefaults(value.join("="));
    }
  } else if (isObject(env)) {
    for (const [key, value] of Object.entries(env)) out[key] = interpolateDefaults(value === null ? "" : String(value));
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Kustomize (the subset this repo uses: resources, generators with merge/replace, namespace,
// images, strategic-merge patches by kind and name)

export interface K8sObject extends JsonObject {
  apiVersion: string;
  kind: string;
  metadata: JsonObject & { name: string; namespace?: string };
}

function isK8sObject(value: unknown): value is K8sObject {
  return isObject(value) && typeof value.kind === "string" && isObject(value.metadata) && typeof value.metadata.name === "string";
}

export function loadYamlDocuments(path: string): unknown[] {
  return parseAllDocuments(readFileSync(path, "utf8")).map((doc) => {
    if (doc.errors.length > 0) throw new Error(`${path}: ${doc.errors[0].message}`);
    return doc.toJS() as unknown;
  }).filter((value) => value !== null);
}

/** Every YAML file under a folder (manifests, kustomizations, compose). */
export function yamlFilesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return yamlFilesUnder(path);
    return /\.ya?ml$/.test(entry.name) ? [path] : [];
  });
}

/** Strategic merge as kubectl does it for the fields patched here: maps merge, lists of named items merge by name. */
export function strategicMerge(base: Json, patch: Json): Json {
  if (isObject(base) && isObject(patch)) {
    const out: JsonObject = { ...base };
    for (const [key, value] of Object.entries(patch)) out[key] = key in base ? strategicMerge(base[key], value) : value;
    return out;
  }
  if (Array.isArray(base) && Array.isArray(patch) && patch.every((item) => isObject(item) && typeof item.name === "string")) {
    const out = [...base];
    for (const item of patch as JsonObject[]) {
      const index = out.findIndex((existing) => isObject(existing) && existing.name === item.name);
      if (index >= 0) out[index] = strategicMerge(out[index], item);
      else out.push(item);
    }
    return out;
  }
  return patch;
}

interface Generator {
  name: string;
  behavior?: "create" | "merge" | "replace";
  literals?: string[];
  files?: string[];
}

function generatorData(dir: string, generator: Generator): Record<string, string> {
  const data: Record<string, string> = {};
  for (const literal of generator.literals ?? []) {
    const index = literal.indexOf("=");
    data[literal.slice(0, index)] = literal.slice(index + 1);
  }
  for (const file of generator.files ?? []) {
    const [key, path] = file.includes("=") ? file.split("=") : [basename(file), file];
    data[key] = readFileSync(join(dir, path), "utf8");
  }
  return data;
}

/**
 * Renders a kustomization folder into its objects. Generated ConfigMaps and Secrets keep their
 * plain names (kubectl adds a content hash and rewrites the references; the references agree
 * either way). Secret data stays as plain text here.
 */
export function renderKustomization(dir: string): K8sObject[] {
  const kustomization = parse(readFileSync(join(dir, "kustomization.yaml"), "utf8")) as JsonObject;
  let objects: K8sObject[] = [];
  for (const resource of (kustomization.resources ?? []) as string[]) {
    const path = join(dir, resource);
    if (statSync(path).isDirectory()) objects.push(...renderKustomization(path));
    else for (const doc of loadYamlDocuments(path)) {
      if (!isK8sObject(doc)) throw new Error(`${path}: a document without kind or metadata.name`);
      objects.push(doc);
    }
  }
  for (const [kind, key] of [["ConfigMap", "configMapGenerator"], ["Secret", "secretGenerator"]] as const) {
    for (const generator of (kustomization[key] ?? []) as unknown as Generator[]) {
      const data = generatorData(dir, generator);
      const existing = objects.find((o) => o.kind === kind && o.metadata.name === generator.name);
      if (generator.behavior === "merge" || generator.behavior === "replace") {
        if (!existing) throw new Error(`${dir}: ${key} ${generator.name} has behavior ${generator.behavior} but no base to change`);
        existing.data = generator.behavior === "merge" ? { ...(existing.data as JsonObject), ...data } : data;
      } else {
        if (existing) throw new Error(`${dir}: ${key} ${generator.name} is generated twice`);
        objects.push({ apiVersion: "v1", kind, metadata: { name: generator.name }, data });
      }
    }
  }
  for (const patchRef of (kustomization.patches ?? []) as Array<{ path: string }>) {
    for (const patch of loadYamlDocuments(join(dir, patchRef.path))) {
      if (!isK8sObject(patch)) throw new Error(`${patchRef.path}: a patch without kind or metadata.name`);
      const index = objects.findIndex((o) => o.kind === patch.kind && o.metadata.name === patch.metadata.name);
      if (index < 0) throw new Error(`${dir}/${patchRef.path}: patch targets ${patch.kind}/${patch.metadata.name}, which does not exist`);
      objects[index] = strategicMerge(objects[index], patch) as K8sObject;
    }
  }
  const images = (kustomization.images ?? []) as Array<{ name: string; newName?: string; newTag?: string }>;
  if (images.length > 0) {
    objects = objects.map((object) => JSON.parse(JSON.stringify(object), (key, value: unknown) => {
      if (key !== "image" || typeof value !== "string") return value;
      const [name, tag] = value.split(":");
      const rule = images.find((image) => image.name === name);
      return rule ? `${rule.newName ?? name}:${rule.newTag ?? tag}` : value;
    }) as K8sObject);
  }
  const namespace = kustomization.namespace as string | undefined;
  if (namespace) {
    for (const object of objects) if (object.kind !== "Namespace") object.metadata.namespace = namespace;
  }
  return objects;
}

export const K8S_DIR = join(INFRA, "k8s");
export const OVERLAYS = readdirSync(join(K8S_DIR, "overlays")).sort();

export function find<T extends K8sObject = K8sObject>(objects: K8sObject[], kind: string, name: string): T {
  const found = objects.find((o) => o.kind === kind && o.metadata.name === name);
  if (!found) throw new Error(`no ${kind} named "${name}" (have: ${objects.filter((o) => o.kind === kind).map((o) => o.metadata.name).join(", ") || "none"})`);
  return found as T;
}

export interface Container extends JsonObject {
  name: string;
  image: string;
}

export function podSpec(object: K8sObject): JsonObject {
  const spec = object.spec as JsonObject;
  return (spec.template as JsonObject).spec as JsonObject;
}

export function containersOf(object: K8sObject): Container[] {
  return podSpec(object).containers as Container[];
}

/** Path of a file relative to the repository root (for messages). */
export function relativeToRoot(path: string): string {
  return path.startsWith(ROOT) ? path.slice(ROOT.length + 1) : path;
}

// A method is a versioned name plus the zod schemas of its request and response: the contract
// between the team that serves it and every team that calls it.
import type { z } from "zod";
import { InvalidRpcOptionError } from "./errors.ts";

const METHOD_NAME = /^([a-z][a-z0-9-]*)\.([A-Za-z0-9_.-]+)\.v([1-9][0-9]*)$/;

/**
 * `Req`/`Res` are what the handler receives and the caller gets back (schema outputs, defaults
 * filled); `ReqIn`/`ResIn` are what the caller sends and the handler returns (schema inputs).
 */
export interface MethodDef<Req = unknown, Res = unknown, ReqIn = Req, ResIn = Res> {
  /** "<service>.<verb>.v<N>", e.g. "inventory.hold.v1". */
  readonly name: string;
  /** The service part of the name; requests go to the channel "<service>.rpc". */
  readonly service: string;
  readonly version: number;
  readonly request: z.ZodType<Req, ReqIn>;
  readonly response: z.ZodType<Res, ResIn>;
  /** Who may call it; absent: any authenticated service. Checked by servers that verify identities. */
  readonly access?: MethodAccess;
}

/**
 * A method's callers: the services that may call it, and the user roles (from the caller's identity
 * token) that may call it through any service. Either one suffices.
 */
export interface MethodAccess {
  readonly services?: readonly string[];
  readonly roles?: readonly string[];
}

function isSchema(value: unknown): value is z.ZodType {
  return typeof value === "object" && value !== null && typeof (value as { safeParse?: unknown }).safeParse === "function";
}

export function defineMethod<ReqSchema extends z.ZodType, ResSchema extends z.ZodType>(definition: {
  name: string;
  request: ReqSchema;
  response: ResSchema;
  access?: MethodAccess;
}): MethodDef<z.output<ReqSchema>, z.output<ResSchema>, z.input<ReqSchema>, z.input<ResSchema>> {
  const match = typeof definition?.name === "string" ? METHOD_NAME.exec(definition.name) : null;
  if (!match) throw new InvalidRpcOptionError("name", `expected "<service>.<verb>.v<N>", got ${JSON.stringify(definition?.name)}`);
  if (!isSchema(definition.request)) throw new InvalidRpcOptionError("request", "expected a zod schema");
  if (!isSchema(definition.response)) throw new InvalidRpcOptionError("response", "expected a zod schema");
  const access = definition.access;
  if (access !== undefined) {
    const names = (list: unknown) => list === undefined || (Array.isArray(list) && list.every((n) => typeof n === "string" && n.length > 0));
    if (typeof access !== "object" || access === null || !names(access.services) || !names(access.roles)) {
      throw new InvalidRpcOptionError("access", "expected { services?: string[], roles?: string[] }");
    }
  }
  return Object.freeze({
    name: definition.name,
    service: match[1],
    version: Number(match[3]),
    request: definition.request as z.ZodType<z.output<ReqSchema>, z.input<ReqSchema>>,
    response: definition.response as z.ZodType<z.output<ResSchema>, z.input<ResSchema>>,
    ...(access ? { access: Object.freeze({ services: access.services ? [...access.services] : undefined, roles: access.roles ? [...access.roles] : undefined }) } : {}),
  });
}

/** The channel a service's servers receive requests on. */
export function requestChannelOf(service: string): string {
  return `${service}.rpc`;
}

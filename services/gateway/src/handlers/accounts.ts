// Accounts and sessions: sign up, sign in (with a per-instance brake on repeated failures),
// sign out, and who am I. The identity token goes into the encrypted session cookie only.
import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { httpErrorBodySchema, httpSignInBodySchema, httpSignUpBodySchema, httpUserResponseSchema } from "@boxoffice/contracts";
import type { GatewayContext } from "../app.ts";
import { GatewayError } from "../errors.ts";
import { endSession, requireSession, startSession } from "../session.ts";

export function registerAccountRoutes(parent: FastifyInstance, context: GatewayContext): void {
  const app = parent.withTypeProvider<ZodTypeProvider>();
  const { backend, signInLimiter, signUpLimiter } = context;

  app.post("/users", {
    schema: {
      tags: ["accounts"],
      summary: "Create a buyer account",
      body: httpSignUpBodySchema,
      response: { 201: httpUserResponseSchema, 400: httpErrorBodySchema, 409: httpErrorBodySchema, 429: httpErrorBodySchema },
    },
  }, async (request, reply) => {
    if (signUpLimiter) {
      // Every attempt counts (a taken email too): the limit is on what one address may try.
      if (signUpLimiter.isBlocked(request.ip)) throw new GatewayError("RATE_LIMITED", "too many accounts created from this address; try again later", { retryAfterSeconds: 3600 });
      signUpLimiter.recordFailure(request.ip);
    }
    const user = await backend.signUp(request.body);
    return reply.status(201).send({ user });
  });

  app.post("/session", {
    schema: {
      tags: ["accounts"],
      summary: "Sign in; sets the session cookie",
      body: httpSignInBodySchema,
      response: { 200: httpUserResponseSchema, 401: httpErrorBodySchema, 429: httpErrorBodySchema },
    },
  }, async (request) => {
    const email = request.body.email;
    const limiterKey = `${email}|${request.ip}`;
    if (signInLimiter.isBlocked(limiterKey)) {
      throw new GatewayError("RATE_LIMITED", "too many failed sign-ins; wait a few minutes", { retryAfterSeconds: context.config.SIGN_IN_WINDOW_SECONDS });
    }
    try {
      const signedIn = await backend.signIn({ email, password: request.body.password, clientAddress: request.ip });
      signInLimiter.reset(limiterKey);
      startSession(request, signedIn, context.config.SESSION_TTL_SECONDS);
      return { user: signedIn.user };
    } catch (error) {
      if ((error as { code?: unknown }).code === "INVALID_CREDENTIALS") signInLimiter.recordFailure(limiterKey);
      throw error;
    }
  });

  app.delete("/session", {
    schema: { tags: ["accounts"], summary: "Sign out; clears the session cookie" },
  }, async (request, reply) => {
    await endSession(request, context.revokedSessions, backend);
    return reply.status(204).send();
  });

  app.get("/me", {
    schema: { tags: ["accounts"], summary: "The signed-in user", response: { 200: httpUserResponseSchema, 401: httpErrorBodySchema } },
  }, async (request) => {
    return { user: requireSession(request).user };
  });
}

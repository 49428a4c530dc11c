// The comparison for joining a waiting room: a bare fastify app answering POST
// /api/events/:eventId/queue with a queue of the same shape, nothing else (no session, no room).
import Fastify from "fastify";

const body = Buffer.from(process.env.BODY ?? "{}");
const app = Fastify({ logger: false });
app.post("/api/events/:eventId/queue", async (_request, reply) => reply.type("application/json").send(body));
const url = await app.listen({ port: 0, host: "127.0.0.1" });
console.log(`listening ${url}`);
process.once("SIGTERM", () => {
  app.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
});

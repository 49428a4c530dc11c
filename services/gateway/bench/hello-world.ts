// The comparison for the cached event page: a bare fastify app that returns the same bytes with
// the same content type, nothing else. Run as its own process; prints its URL.
import Fastify from "fastify";

const body = Buffer.from(process.env.BODY ?? "{}");
const app = Fastify({ logger: false });
app.get("/api/events/:eventId", async (_request, reply) => reply.type("application/json").send(body));
const url = await app.listen({ port: 0, host: "127.0.0.1" });
console.log(`listening ${url}`);
process.once("SIGTERM", () => void app.close().then(() => process.exit(0)));

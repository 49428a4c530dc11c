// Users benchmark on Redis (bus + rate-limit counters) and Postgres (2 physical shards): logins per
// second through the bus at the default scrypt cost (2^15) beside the bare KDF rate on this machine
// (the bound) and logins at a cheap cost (2^10, what is left when the KDF is nearly free).
// Run: npm run bench -w @boxoffice/users  (needs the real Redis and Postgres)
import { scrypt } from "node:crypto";
import { availableParallelism, loadavg } from "node:os";
import { createChannelLayer, createRpcClient } from "@boxoffice/bus";
import { usersLoginV1, usersRegisterV1 } from "@boxoffice/contracts";
import { createLogger } from "@boxoffice/runtime";
import { createTestShardMap } from "@boxoffice/sharding";
import { percentile, redisUrl, uniqueName, writeBenchmarkSection } from "@boxoffice/testkit";
import { buildUsersService } from "../src/app.ts";
import { usersConfigSchema } from "../src/config.ts";

const SECONDS = 8;
const CONCURRENCY = 16;
const USERS = 50;

const logger = createLogger({ service: "bench", level: "silent" });

async function kdfRate(logN: number): Promise<number> {
  const N = 2 ** logN;
  const deadline = performance.now() + SECONDS * 1000;
  let done = 0;
  // As many in flight as libuv's thread pool runs at once (the service gets the same pool).
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      while (performance.now() < deadline) {
        await new Promise((resolve, reject) => scrypt("password", "salt-salt-salt-s", 32, { N, r: 8, p: 1, maxmem: 256 * N * 8 + 2 ** 20 }, (e, k) => (e ? reject(e) : resolve(k))));
        done++;
      }
    }),
  );
  return done / SECONDS;
}

async function loginRate(logN: number) {
  const prefix = uniqueName("users_bench");
  const shards = await createTestShardMap({ kind: "postgres", physical: 2, prefix });
  const layer = createChannelLayer(redisUrl(), { prefix });
  const config = usersConfigSchema.parse({
    BUS_URL: redisUrl(),
    BUS_PREFIX: prefix,
    LOG_LEVEL: "silent",
    USERS_SCRYPT_LOG_N: String(logN),
    SEED_DEMO: "false",
    RPC_CONCURRENCY: String(CONCURRENCY),
    // The bench logs in the same accounts over and over, successfully: no limit is reached.
    NODE_ID: "3",
  });
  const service = buildUsersService(config, { layer, logger, shardMap: shards.map });
  await service.start();
  const client = createRpcClient({ layer, service: "bench", defaultDeadlineMs: 60_000 });
  const emails = Array.from({ length: USERS }, (_, i) => `bench-${i}@example.com`);
  for (const email of emails) await client.call(usersRegisterV1, { email, password: "bench-password", displayName: "Bench" });
  const latencies: number[] = [];
  let failures = 0;
  const started = performance.now();
  const deadline = started + SECONDS * 1000;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async (_, worker) => {
      for (let i = worker; performance.now() < deadline; i += CONCURRENCY) {
        const t = performance.now();
        try {
          await client.call(usersLoginV1, { email: emails[i % USERS], password: "bench-password" });
          latencies.push(performance.now() - t);
        } catch {
          failures++;
        }
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  await client.close();
  await service.stop();
  await layer.flush();
  await layer.close();
  await shards.drop();
  return { perSecond: latencies.length / seconds, p50: percentile(latencies, 50), p99: percentile(latencies, 99), failures };
}

const kdf15 = await kdfRate(15);
const login15 = await loginRate(15);
const login10 = await loginRate(10);

const f = (x: number) => x.toFixed(1);
const table = [
  `| scenario (${CONCURRENCY} concurrent logins, ${SECONDS} s) | per second | p50 ms | p99 ms | failed |`,
  "|---|---:|---:|---:|---:|",
  `| bare scrypt N=2^15 r=8 p=1 (4 at once, no service) — the bound | ${f(kdf15)} | | | |`,
  `| login over the bus, scrypt N=2^15 (default) | ${f(login15.perSecond)} | ${f(login15.p50)} | ${f(login15.p99)} | ${login15.failures} |`,
  `| login over the bus, scrypt N=2^10 (KDF nearly free: bus + Postgres + token signing) | ${f(login10.perSecond)} | ${f(login10.p50)} | ${f(login10.p99)} | ${login10.failures} |`,
].join("\n");
console.log(table);

writeBenchmarkSection(
  "users",
  "Users: login throughput",
  "npm run bench -w @boxoffice/users",
  `One users instance on Redis (bus, rate-limit counters) and Postgres (2 physical shards), ${availableParallelism()} cores shared with the load generator (1-minute load average at the end of the run: ${loadavg()[0].toFixed(1)}; other work on the machine depresses every row alike).

${table}

KDF cost: scrypt N=2^15, r=8, p=1 (32 MiB per hash). A login is bounded by it: the default row sits at the bare-KDF row, and
the cheap-KDF row shows everything else costs a small fraction. OWASP's recommendation is N=2^17 (four times the work);
2^15 is chosen so that one core still does about ten logins a second during an on-sale rush, while an offline guess still
costs 32 MiB and tens of milliseconds. Deployments with more cores per users instance raise \`USERS_SCRYPT_LOG_N\`; stored
hashes carry their own parameters, so old hashes keep verifying.`,
);
process.exit(0);

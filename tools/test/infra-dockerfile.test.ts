// The one Dockerfile builds every service image: multi-stage, production dependencies only, a
// non-root user, a health check that exists, and an entry point that exists for each service.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { HEALTHCHECK_SCRIPT, imageEnv, parseDockerfile, readText, ROOT, SERVICES } from "./infra-support.ts";

const dockerfile = parseDockerfile(readText("infra/Dockerfile"));
const finalStage = dockerfile.stages[dockerfile.stages.length - 1];
const instructions = (keyword: string) => finalStage.instructions.filter((i) => i.keyword === keyword);

describe("infra/Dockerfile", () => {
  it("when built, it goes through several stages and the image that runs starts from a Node 24 slim or alpine base", () => {
    expect(dockerfile.stages.length).toBeGreaterThanOrEqual(3);
    const base = finalStage.from.replace(/^\$\{(\w+)\}$/, (_m, name: string) => dockerfile.args[name] ?? "");
    expect(base).toMatch(/^node:24(\.\d+)*-(slim|alpine)/);
  });

  it("when the image runs, the process is not root", () => {
    const users = instructions("USER").map((i) => i.args.trim());
    expect(users.length, "the final stage sets USER").toBeGreaterThan(0);
    expect(users[users.length - 1]).not.toMatch(/^(root|0)(:|$)/);
  });

  it("when dependencies are installed for the image, dev dependencies are left out", () => {
    const installs = dockerfile.stages.flatMap((s) => s.instructions).filter((i) => i.keyword === "RUN" && /npm ci\b/.test(i.args));
    expect(installs.some((i) => i.args.includes("--omit=dev"))).toBe(true);
    // The stage whose node_modules reach the final image installs with --omit=dev.
    const copiedFrom = instructions("COPY").map((i) => /--from=(\S+)/.exec(i.args)?.[1]).filter(Boolean);
    const depsStages = dockerfile.stages.filter((s) => copiedFrom.includes(s.name) && s.instructions.some((i) => /npm ci\b/.test(i.args)));
    expect(depsStages.length).toBeGreaterThan(0);
    for (const stage of depsStages) {
      for (const install of stage.instructions.filter((i) => /npm ci\b/.test(i.args))) expect(install.args).toContain("--omit=dev");
    }
  });

  it("when Docker checks the container's health, it runs a script that exists in the repository", () => {
    const checks = instructions("HEALTHCHECK");
    expect(checks).toHaveLength(1);
    expect(checks[0].args).toContain(HEALTHCHECK_SCRIPT);
    expect(existsSync(join(ROOT, HEALTHCHECK_SCRIPT))).toBe(true);
  });

  it.each(SERVICES)("when built with SERVICE=%s, the command starts that service's main.ts", (service) => {
    const cmd = instructions("CMD").at(-1)?.args ?? "";
    const env = imageEnv(finalStage, { SERVICE: service });
    const entry = /services\/\$\{SERVICE\}\/src\/main\.ts/.test(cmd) ? `services/${env.SERVICE}/src/main.ts` : "";
    expect(entry).toBe(`services/${service}/src/main.ts`);
  });

  // A service package appears with its public index; from then on its process entry must exist too.
  it.each(SERVICES)("when the %s package exists, its process entry src/main.ts exists", (service) => {
    expect(existsSync(join(ROOT, "services", service, "src", "main.ts"))).toBe(true);
  });

  it("when the image is built, the gateway's web UI is built by a function the gateway exports (the image has no Vite)", async () => {
    const runs = dockerfile.stages.flatMap((s) => s.instructions).filter((i) => i.keyword === "RUN").map((i) => i.args).join("\n");
    const step = /import\('\.\/([^']+)'\)\.then\(\((\w+)\) => \2\.(\w+)\(\)\)/.exec(runs);
    expect(step, "a RUN step builds the web UI").not.toBeNull();
    const module = (await import(join(ROOT, step![1]))) as Record<string, unknown>;
    expect(typeof module[step![3]], `${step![1]} exports ${step![3]}`).toBe("function");
  });

  it("when a container starts, it listens on all interfaces in production mode", () => {
    const env = imageEnv(finalStage, { SERVICE: "gateway" });
    expect(env).toMatchObject({ NODE_ENV: "production", HOST: "0.0.0.0", SERVICE: "gateway" });
  });
});

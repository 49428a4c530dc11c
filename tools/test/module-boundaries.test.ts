import { ESLint } from "eslint";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const root = join(import.meta.dirname, "..", "..");

// Lints source text as if it lived in a service, without writing any file into the build.
async function lintAs(relativePath: string, code: string): Promise<string[]> {
  // Untyped: the linted file does not exist, so the TypeScript project service cannot type it
  // (the typed rules are not what this test is about).
  const eslint = new ESLint({
    cwd: root,
    overrideConfig: {
      files: ["**/*.ts"],
      languageOptions: { parserOptions: { projectService: false } },
      rules: { "@typescript-eslint/no-floating-promises": "off" },
    },
  });
  const [result] = await eslint.lintText(code, { filePath: join(root, relativePath) });
  return result.messages.filter((m) => m.ruleId === "@nx/enforce-module-boundaries").map((m) => m.message);
}

describe("module boundaries", () => {
  it("when a service imports another service, lint fails", async () => {
    const messages = await lintAs(
      "services/users/src/bad-import.ts",
      'import * as events from "@boxoffice/events";\nexport const x = events;\n',
    );
    expect(messages.join("\n")).toMatch(/type:service.*can only depend on libs tagged with.*type:lib/);
  });

  it("when a lib imports a service, lint fails", async () => {
    const messages = await lintAs(
      "libs/contracts/src/bad-import.ts",
      'import * as users from "@boxoffice/users";\nexport const x = users;\n',
    );
    expect(messages.length).toBeGreaterThan(0);
  });

  it("when a service imports a lib, lint is satisfied", async () => {
    const messages = await lintAs(
      "services/users/src/good-import.ts",
      'import * as bus from "@boxoffice/bus";\nexport const x = bus;\n',
    );
    expect(messages).toEqual([]);
  });
});

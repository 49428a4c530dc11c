// One lint config for the whole workspace. The module-boundary rule is what keeps the services
// apart: tags in each package.json decide who may import whom.
import js from "@eslint/js";
import tseslint from "typescript-eslint";
import nx from "@nx/eslint-plugin";

export default tseslint.config(
  {
    ignores: ["**/node_modules/**", "**/dist/**", "**/generated/**", "**/.data/**", "**/web-dist/**", "tools/lint-fixtures/**"],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ["**/*.ts", "**/*.mjs", "**/*.js"],
    plugins: { "@nx": nx },
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "@typescript-eslint/consistent-type-imports": "error",
      "@nx/enforce-module-boundaries": [
        "error",
        {
          enforceBuildableLibDependency: false,
          allow: [],
          depConstraints: [
            { sourceTag: "type:service", onlyDependOnLibsWithTags: ["type:lib"] },
            { sourceTag: "type:lib", onlyDependOnLibsWithTags: ["type:lib"] },
            // The single-process host may import each service's public build function.
            { sourceTag: "type:host", onlyDependOnLibsWithTags: ["type:lib", "type:service"] },
            // Load harnesses drive the whole platform from outside.
            { sourceTag: "type:tool", onlyDependOnLibsWithTags: ["type:lib", "type:service", "type:host"] },
          ],
        },
      ],
    },
  },
  {
    // A promise nobody awaits or catches is a crash waiting for the first infrastructure error
    // (an unhandled rejection ends the process). Typed: the rule needs the TypeScript program.
    // The files tsconfig.json type-checks (bench scripts and vitest configs are outside it).
    files: ["libs/*/src/**/*.ts", "libs/*/test/**/*.ts", "services/*/src/**/*.ts", "services/*/test/**/*.ts", "tools/**/*.ts", "load-tests/**/*.ts"],
    ignores: ["load-tests/k6/**", "load-tests/vitest.config.ts", "tools/lint-fixtures/**", "services/gateway/web/**"],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    // ignoreVoid off: `void promise` hid the gateway crash this rule exists for; handle it or await it.
    rules: { "@typescript-eslint/no-floating-promises": ["error", { ignoreVoid: false }] },
  },
);

// Accessibility measured in the browser tests: axe-core (injected from the npm package, never
// downloaded) runs on the page as it is, and a test fails on any serious or critical violation,
// naming the rule, the elements and axe's help text.
import axe from "axe-core";
import type { Page } from "playwright-core";

interface AxeViolation { id: string; impact: string | null; help: string; nodes: Array<{ target: unknown[]; failureSummary?: string }> }

/** The serious and critical violations on the page now, one readable line each. */
export async function seriousAccessibilityViolations(page: Page): Promise<string[]> {
  if (!(await page.evaluate(() => "axe" in window))) await page.addScriptTag({ content: axe.source });
  const violations = await page.evaluate(async () => {
    const run = (window as unknown as { axe: { run(context: Document, options: object): Promise<{ violations: AxeViolation[] }> } }).axe.run;
    const result = await run(document, { resultTypes: ["violations"] });
    return result.violations;
  });
  return violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => `${v.impact} ${v.id} (${v.help}) on ${v.nodes.slice(0, 5).map((n) => JSON.stringify(n.target)).join(", ")}${v.nodes.length > 5 ? ` and ${v.nodes.length - 5} more` : ""}: ${v.nodes[0]?.failureSummary ?? ""}`);
}

/** Fails the test when axe finds a serious or critical violation on `what`. */
export async function expectAccessible(page: Page, what: string): Promise<void> {
  const found = await seriousAccessibilityViolations(page);
  if (found.length > 0) throw new Error(`axe found ${found.length} serious or critical accessibility violation(s) on ${what}:\n${found.join("\n")}`);
}

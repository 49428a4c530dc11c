// `npm run build:web`: builds the browser UI (even when the build is current) and prints what each
// page costs in JS+CSS, gzipped — the figures the bundle budget test checks (services/gateway/test/web-ui.test.ts).
import { rmSync } from "node:fs";
import { join } from "node:path";
import { ensureWebUiBuilt, formatBundleSizes, readBundleSizes } from "@boxoffice/gateway";

const dir = join(import.meta.dirname, "..", "services", "gateway", "web-dist");
rmSync(join(dir, ".source-hash"), { force: true });
await ensureWebUiBuilt();
console.log(formatBundleSizes(readBundleSizes(dir)));

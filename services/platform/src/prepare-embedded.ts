// Run by the root `postinstall`: the slow one-time work of `npm start` moves into the install —
// the empty-database template and the web UI build. It never fails an install (a Docker layer
// installs from manifests alone, before any source exists): `npm start` does the same work itself
// when this could not.
const started = Date.now();
try {
  const [{ ensurePgliteTemplate }, { ensureWebUiBuilt }] = await Promise.all([import("./pglite-template.ts"), import("@boxoffice/gateway")]);
  const results = await Promise.allSettled([ensurePgliteTemplate(), ensureWebUiBuilt()]);
  for (const result of results) {
    if (result.status === "rejected") console.warn(`boxoffice prepare: ${(result.reason as Error).message}; npm start will do it`);
  }
  console.log(`boxoffice prepare: embedded database template and web UI ready (${((Date.now() - started) / 1000).toFixed(1)} s)`);
} catch (error) {
  console.warn(`boxoffice prepare: skipped (${(error as Error).message}); npm start will do it`);
}

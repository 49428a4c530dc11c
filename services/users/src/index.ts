// @boxoffice/users: accounts, credentials and identity tokens. Public API: the build function (for
// the embedded host) and the config schema (manifests are checked against it).
export { buildUsersService } from "./app.ts";
export type { UsersDeps, UsersService } from "./app.ts";
export { usersConfigSchema } from "./config.ts";
export type { UsersConfig } from "./config.ts";

// The only code that touches the users tables, through the shard router: raw SQL on the hot paths
// (register, login), the generated Prisma client for profile reads. Every query is a single-row
// lookup by primary key or unique email, on the one shard that owns it.
import type { Role } from "@boxoffice/contracts";
import type { PrismaClient } from "./generated/client.ts";

/** Raw SQL on one physical shard (the router's executor). */
export interface ShardSql {
  readonly shard: string;
  query<Row = Record<string, unknown>>(text: string, params?: readonly unknown[]): Promise<{ rows: Row[]; rowCount: number }>;
}

/** How the store reaches the shards; app.ts adapts the shard router to it. */
export interface UsersShards {
  forKey(key: string): ShardSql;
  /** The Prisma client of the shard that owns the id. */
  prismaForId(id: string): PrismaClient;
  all(): ShardSql[];
}

export interface UserRecord {
  id: string;
  email: string;
  displayName: string;
  role: Role;
  passwordHash: string;
  createdAt: Date;
}

export interface UsersStore {
  /** Inserts the user; "email_taken" when the unique email index already holds the email. */
  insert(user: Omit<UserRecord, "createdAt">): Promise<"created" | "email_taken">;
  findByEmail(email: string): Promise<UserRecord | undefined>;
  findById(id: string): Promise<UserRecord | undefined>;
  /** Runs `select 1` on every shard. */
  checkShards(): Promise<Array<{ shard: string; ok: boolean; error?: string }>>;
}

interface UserRow {
  id: bigint | string;
  email: string;
  display_name: string;
  role: string;
  password_hash: string;
  created_at: Date | string;
}

const COLUMNS = "id, email, display_name, role, password_hash, created_at";

function toRecord(row: UserRow): UserRecord {
  return {
    id: String(row.id),
    email: row.email,
    displayName: row.display_name,
    role: row.role === "organizer" || row.role === "operator" ? row.role : "buyer",
    passwordHash: row.password_hash,
    createdAt: new Date(row.created_at),
  };
}

const UNIQUE_VIOLATION = "23505";

function isUniqueViolation(error: unknown): boolean {
  for (let e: unknown = error; e; e = (e as { cause?: unknown }).cause) {
    if ((e as { code?: unknown }).code === UNIQUE_VIOLATION) return true;
  }
  return false;
}

export function createUsersStore(shards: UsersShards): UsersStore {
  return {
    async insert(user) {
      try {
        // ON CONFLICT on the email only: a primary-key clash would be a bug in id minting and must fail loudly.
        const result = await shards.forKey(user.email).query(
          `insert into users (id, email, display_name, role, password_hash) values ($1, $2, $3, $4, $5)
           on conflict (email) do nothing`,
          [user.id, user.email, user.displayName, user.role, user.passwordHash],
        );
        return result.rowCount === 1 ? "created" : "email_taken";
      } catch (error) {
        if (isUniqueViolation(error)) return "email_taken";
        throw error;
      }
    },
    async findByEmail(email) {
      const { rows } = await shards.forKey(email).query<UserRow>(`select ${COLUMNS} from users where email = $1`, [email]);
      return rows[0] ? toRecord(rows[0]) : undefined;
    },
    async findById(id) {
      const user = await shards.prismaForId(id).user.findUnique({ where: { id: BigInt(id) } });
      if (!user) return undefined;
      return toRecord({
        id: user.id,
        email: user.email,
        display_name: user.displayName,
        role: user.role,
        password_hash: user.passwordHash,
        created_at: user.createdAt,
      });
    },
    async checkShards() {
      return Promise.all(
        shards.all().map(async (sql) => {
          try {
            await sql.query("select 1");
            return { shard: sql.shard, ok: true };
          } catch (error) {
            return { shard: sql.shard, ok: false, error: error instanceof Error ? error.message : String(error) };
          }
        }),
      );
    },
  };
}

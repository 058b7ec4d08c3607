/**
 * The `console_sessions` table as rows (auth/sessions.ts says what a session is). Keyed by the
 * sha256 of the session token: the database never holds a token that opens a session.
 */
import type { PrismaClient } from "../../db/index.js";

export interface StoredSession {
  /** sha256 (hex) of the session token. */
  id: string;
  keyId: string;
  /** sha256 (hex) of the CSRF token. */
  csrfHash: string;
  createdAt: Date;
  lastSeenAt: Date;
  expiresAt: Date;
}

export interface SessionRepository {
  insert(row: StoredSession): Promise<void>;
  find(id: string): Promise<StoredSession | null>;
  /** Moves last_seen_at forward (never back: two instances may touch one session at once). */
  touch(id: string, at: Date): Promise<void>;
  delete(id: string): Promise<void>;
  deleteForKey(keyId: string): Promise<number>;
  /** Deletes sessions past their absolute end or idle since before `idleBefore`. */
  deleteStale(now: Date, idleBefore: Date): Promise<number>;
}

export class PrismaSessionRepository implements SessionRepository {
  constructor(private readonly prisma: PrismaClient) {}

  async insert(row: StoredSession): Promise<void> {
    await this.prisma.consoleSession.create({ data: row });
  }

  async find(id: string): Promise<StoredSession | null> {
    return this.prisma.consoleSession.findUnique({ where: { id } });
  }

  async touch(id: string, at: Date): Promise<void> {
    await this.prisma.consoleSession.updateMany({ where: { id, lastSeenAt: { lt: at } }, data: { lastSeenAt: at } });
  }

  async delete(id: string): Promise<void> {
    await this.prisma.consoleSession.deleteMany({ where: { id } });
  }

  async deleteForKey(keyId: string): Promise<number> {
    return (await this.prisma.consoleSession.deleteMany({ where: { keyId } })).count;
  }

  async deleteStale(now: Date, idleBefore: Date): Promise<number> {
    return (await this.prisma.consoleSession.deleteMany({ where: { OR: [{ expiresAt: { lte: now } }, { lastSeenAt: { lt: idleBefore } }] } })).count;
  }
}

/** How to reach a copy. Never carries a password in clear: `passwordFrom` says where it comes from. */
export interface ConnectionInfo {
  /** A host name, an IP address, or (local copies) the folder holding the Unix socket. */
  host: string;
  port: number;
  database: string;
  user: string;
  /** Where the password comes from, for people: "none (local socket)", "the source's secret", ... */
  passwordFrom: string;
  ssl?: boolean;
  /** For the checks' pg client only: never in a report, a log line or stdout. */
  password?: string;
  /** PEM CA certificates that verify the copy's server certificate (TLS is then required and verified). */
  ca?: string;
}

export type CopyPoll =
  | { state: 'pending'; detail?: string }
  | { state: 'ready'; connection: ConnectionInfo; lastReplayedAt: string | null }
  | { state: 'failed'; reason: string };

export interface RestoreWindow {
  earliest: Date;
  latest: Date;
  /** What a person must know about the window: a hole in the WAL archive that ends it early. */
  note?: string;
}

/** Where a copy is restored to: the end of what is restorable, or a point in time inside the window. */
export type CopyTarget = { kind: 'latest' } | { kind: 'time'; time: Date };

/**
 * One provider: speaks its API, nothing else. Handles are plain JSON so that the cloud's state
 * machine can carry them between Lambda invocations.
 */
export interface RestoreProvider<Handle = unknown> {
  readonly kind: string;
  /** How often the drill polls a copy being restored: each provider knows what its API bears. */
  readonly pollIntervalMs?: number;
  window(): Promise<RestoreWindow>;
  /** `keep`: the copy may outlive the drill (restore --keep), so it must be durable; false: a drill's throwaway copy. */
  start(request: { target: CopyTarget; copyName: string; expiresAt: Date; keep?: boolean }): Promise<Handle>;
  poll(handle: Handle): Promise<CopyPoll>;
  /**
   * Removes the copy; refuses (NotOurCopyError) anything not marked as ours. 'gone': there was no
   * copy left to remove (someone else removed it: a person's drop, the janitor), so this call removed nothing.
   */
  destroy(handle: Handle): Promise<void | 'gone'>;
  /** The copy must outlive this process (restore --keep). */
  keep?(handle: Handle): void;
  /** The copy's name, read from its handle. */
  copyNameOf(handle: Handle): string;
  /**
   * The secret part of a ready copy's connection (password, CA bundle), fetched only where a client
   * connects: poll results travel between Lambdas in the state machine's history, so they never carry it.
   */
  connectionSecrets?(connection: ConnectionInfo): Promise<Partial<Pick<ConnectionInfo, 'user' | 'password' | 'ca'>>>;
  /** Copies of ours this provider can see, with their expiry (for the janitor). */
  listCopies?(): Promise<ListedCopy<Handle>[]>;
  /** How close the source is to a limit on copies (Neon's branches per project), in one line; the janitor reports it. */
  capacity?(): Promise<string | undefined>;
}

export interface ListedCopy<Handle = unknown> {
  name: string;
  /** null when the copy carries no readable expiry. */
  expiresAt: Date | null;
  handle: Handle;
}

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
}

export type CopyPoll =
  | { state: 'pending'; detail?: string }
  | { state: 'ready'; connection: ConnectionInfo; lastReplayedAt: string | null }
  | { state: 'failed'; reason: string };

/**
 * Every copy's name: rd-<database>-<yyyymmddhhmmss>-<4 random>. The prefix is how every provider
 * (and, in the cloud, IAM) tells our copies from anything else; it stays a valid RDS identifier.
 */
export const COPY_NAME = /^rd-[a-z][a-z0-9-]{0,19}-\d{14}-[a-z0-9]{4}$/;

export function copyName(database: string, now: Date, random: () => number = Math.random): string {
  const stamp = now.toISOString().replace(/[-:T]/g, '').slice(0, 14);
  const suffix = Array.from({ length: 4 }, () => 'abcdefghijklmnopqrstuvwxyz0123456789'[Math.floor(random() * 36)]).join('');
  return `rd-${database}-${stamp}-${suffix}`;
}

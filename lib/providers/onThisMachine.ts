/** Providers whose copies run as servers on this machine (they share its cores and its disk). */
export function copyOnThisMachine(kind: string): boolean {
  return kind === 'local' || kind === 'pgbackrest';
}

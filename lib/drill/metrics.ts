/** Seconds between two instants, to the millisecond. */
export function secondsBetween(from: Date | number, to: Date | number): number {
  return Math.round(Number(to) - Number(from)) / 1000;
}

import { expect } from 'vitest';
import { leftoverCopies, type RdsWorld } from './world.ts';

/**
 * A test file's last step: removes the world, then holds it to the safety rules. The source is
 * read-only (no create, modify, delete or restore-into ever names it), and no copy is left behind.
 */
export async function removeWorldCheckingSource(world: RdsWorld | undefined): Promise<void> {
  if (!world) return;
  const touchingSource = world.emulator.mutatingCallsOn(world.sourceIdentifiers);
  await world.remove();
  expect(touchingSource).toEqual([]);
  expect(await leftoverCopies()).toEqual([]);
}

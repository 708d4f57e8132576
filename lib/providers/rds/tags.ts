import type { Tag } from '@aws-sdk/client-rds';
import { COPY_NAME } from '../copyName.ts';

/** Tags every copy carries; the janitor and destroy read them back before removing anything. */
export const MANAGED_TAG = 'restore-drill:managed';
export const EXPIRES_TAG = 'restore-drill:expires-at';
export const DRILL_TAG = 'restore-drill:drill';
export const DATABASE_TAG = 'restore-drill:database';
/** Every key a copy is tagged with: IAM allows a create request no other (aws:TagKeys). */
export const COPY_TAG_KEYS = [MANAGED_TAG, EXPIRES_TAG, DRILL_TAG, DATABASE_TAG] as const;

export function copyTags(copyName: string, database: string, expiresAt: Date): Tag[] {
  return [
    { Key: MANAGED_TAG, Value: 'true' },
    { Key: EXPIRES_TAG, Value: expiresAt.toISOString() },
    { Key: DRILL_TAG, Value: copyName },
    { Key: DATABASE_TAG, Value: database },
  ];
}

export function tagValue(tags: readonly Tag[] | undefined, key: string): string | undefined {
  return tags?.find((tag) => tag.Key === key)?.Value;
}

export function isManaged(tags: readonly Tag[] | undefined): boolean {
  return tagValue(tags, MANAGED_TAG) === 'true';
}

/** A copy's expiry from its tags; null when the tag is missing or unreadable. */
export function expiresAtOf(tags: readonly Tag[] | undefined): Date | null {
  const text = tagValue(tags, EXPIRES_TAG);
  const time = text ? new Date(text) : undefined;
  return time && !Number.isNaN(time.getTime()) ? time : null;
}

/** Our copies' identifiers: a copy name, or (Aurora) a copy name with the instance suffix. */
export function hasCopyName(identifier: string): boolean {
  return COPY_NAME.test(identifier) || COPY_NAME.test(identifier.replace(/-i\d$/, ''));
}

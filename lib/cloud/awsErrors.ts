/** The SDK's error code (its name), or undefined for what is not an AWS service error. */
export function awsErrorName(error: unknown): string | undefined {
  return error instanceof Error ? ((error as { Code?: string }).Code ?? error.name) : undefined;
}

/** `Code: message`, as the service said it (service messages name resources and actions, never secrets). */
export function awsErrorText(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const name = awsErrorName(error);
  return name && name !== 'Error' && !error.message.startsWith(name) ? `${name}: ${error.message}` : error.message;
}

/** A service error the caller's identity got because its policy does not allow the call. */
export function isAccessDenied(error: unknown): boolean {
  const name = awsErrorName(error);
  return name === 'AccessDenied' || name === 'AccessDeniedException' || name === 'UnauthorizedOperation';
}

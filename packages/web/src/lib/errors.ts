import { ConfabError } from '@confab/client';

/** Words a person understands, for any error the SDK or the browser throws. */
export function humanError(error: unknown): string {
  if (error instanceof ConfabError) {
    if (/deactivated/i.test(error.message)) return 'This account is deactivated. Ask an admin of this Confab if you think that is a mistake.';
    switch (error.code) {
      case 'UNAVAILABLE':
        return /offline|network/i.test(error.message)
          ? "You're offline. Check your connection and try again."
          : 'Confab is not reachable right now. Try again in a moment.';
      case 'RATE_LIMITED':
        return 'That was a lot at once. Wait a few seconds and try again.';
      case 'UNAUTHENTICATED':
        return /password|credential|invalid/i.test(error.message) ? 'That email and password do not match.' : 'Your session has ended. Please sign in again.';
      case 'FORBIDDEN':
        return "You don't have permission to do that here.";
      case 'NOT_FOUND':
        return 'That no longer exists, or you no longer have access to it.';
      case 'CONFLICT':
        return capitalize(error.message);
      case 'PAYLOAD_TOO_LARGE':
        return 'That is too large to send.';
      case 'VALIDATION_ERROR':
        return capitalize(error.message);
      default:
        return 'Something went wrong on our side. Please try again.';
    }
  }
  if (error instanceof Error && /fetch|network/i.test(error.message)) return "Can't reach Confab. Check your connection.";
  return 'Something went wrong. Please try again.';
}

function capitalize(s: string): string {
  const t = s.trim();
  return t ? t[0]!.toUpperCase() + t.slice(1) + (/[.!?]$/.test(t) ? '' : '.') : 'Please check what you entered.';
}

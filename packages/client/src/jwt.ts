/** Reads (does not verify: the server does) the claims of a JWT. Null when it is not one. */
export function decodeJwt(token: string): { sub?: string; exp?: number } | null {
  const part = token.split('.')[1];
  if (!part) return null;
  try {
    const base64 = part.replace(/-/g, '+').replace(/_/g, '/').padEnd(Math.ceil(part.length / 4) * 4, '=');
    const json = new TextDecoder().decode(Uint8Array.from(atob(base64), (c) => c.charCodeAt(0)));
    const claims: unknown = JSON.parse(json);
    return claims && typeof claims === 'object' ? (claims as { sub?: string; exp?: number }) : null;
  } catch {
    return null;
  }
}

/** Milliseconds since the epoch at which the token expires, or null when it says nothing. */
export function tokenExpiry(token: string): number | null {
  const exp = decodeJwt(token)?.exp;
  return typeof exp === 'number' ? exp * 1000 : null;
}

import { z } from 'zod';

// Single sign-on with OpenID Connect (API.md, "Single sign-on").

export const _ssoPlaceholder = z.never();

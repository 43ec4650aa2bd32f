import { z } from 'zod';

// Outgoing webhooks, their deliveries, and incoming webhooks (API.md, "Building on Confab").

export const _webhooksPlaceholder = z.never();

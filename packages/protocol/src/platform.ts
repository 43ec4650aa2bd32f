import { z } from 'zod';

// API keys, platform users and token minting, external JWT exchange, bots (API.md, "Building on Confab").

export const _platformPlaceholder = z.never();

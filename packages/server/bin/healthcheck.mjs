#!/usr/bin/env node
// Exits 0 when this machine's Confab answers GET /readyz with 200 within 3 seconds (the database,
// and Redis where configured, answer), 1 otherwise: the container's and the service's health check.
// Reads PORT as the server does.
const port = process.env.PORT || 3000;
try {
  const res = await fetch(`http://127.0.0.1:${port}/readyz`, { signal: AbortSignal.timeout(3000) });
  process.exit(res.ok ? 0 : 1);
} catch {
  process.exit(1);
}

#!/usr/bin/env bash
# npm run bench: raise the open-file limit (Node cannot call setrlimit), then run the harness.
# Each connection is one descriptor in the generator and one in the server process. Here the hard
# limit is 20,000 and cannot be raised without CAP_SYS_RESOURCE; we go as high as allowed.
ulimit -n 200000 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
# The benchmarks run the built server (what `npm start` runs): build it from the current sources.
node "$(dirname "$0")/../packages/server/build.mjs"
exec node --import tsx "$(dirname "$0")/run.ts" "$@"

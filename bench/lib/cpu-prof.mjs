// Preloaded into a Confab server process by `npm run bench -- --profile` (NODE_OPTIONS=--import …):
// Node 20 refuses --cpu-prof in NODE_OPTIONS, so this starts V8's sampling profiler through the
// inspector and writes a .cpuprofile into BENCH_CPU_PROF_DIR when the process is told to stop
// (SIGTERM/SIGINT; this listener runs before the server's own shutdown handler).
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import path from 'node:path';

const dir = process.env.BENCH_CPU_PROF_DIR;
if (dir) {
  const session = new Session();
  session.connect();
  session.post('Profiler.enable');
  session.post('Profiler.setSamplingInterval', { interval: 500 });
  session.post('Profiler.start');
  let written = false;
  const write = () => {
    if (written) return;
    written = true;
    // Same-thread inspector sessions answer synchronously.
    session.post('Profiler.stop', (error, result) => {
      if (error) return;
      writeFileSync(path.join(dir, `CPU.${Date.now()}.${process.pid}.cpuprofile`), JSON.stringify(result.profile));
    });
  };
  process.prependListener('SIGTERM', write);
  process.prependListener('SIGINT', write);
  process.on('exit', write);
}

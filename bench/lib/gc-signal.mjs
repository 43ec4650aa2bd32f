// Preloaded into server processes by the memory scenario (NODE_OPTIONS=--import …): a full garbage
// collection on SIGUSR2, so resident memory is read without the garbage left by connection setup.
// Works without --expose-gc (which NODE_OPTIONS does not accept on every Node version).
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc');
process.on('SIGUSR2', () => {
  gc();
  gc();
});

import cliProgress from 'cli-progress';

/**
 * Progress of a long command (export, import): a bar on a terminal, plain lines otherwise (a log
 * file, CI, a test), at most one every few seconds and one when a part ends. On standard error:
 * standard output carries the command's answer.
 */
export interface Progress {
  /** `n` more items done. */
  add(n: number): void;
  /** The part being worked on now (a table, the files). */
  part(name: string): void;
  stop(): void;
}

const PLAIN_EVERY_MS = 5000;

export function createProgress(label: string, total: number, stream: NodeJS.WriteStream = process.stderr): Progress {
  let done = 0;
  let current = '';
  if (stream.isTTY) {
    const bar = new cliProgress.SingleBar(
      { format: `${label} [{bar}] {percentage}% | {value}/{total} | {part} | ETA {eta_formatted}`, stream, hideCursor: true, etaBuffer: 200, fps: 5 },
      cliProgress.Presets.shades_classic,
    );
    bar.start(Math.max(total, 1), 0, { part: '' });
    return {
      add(n) {
        done += n;
        bar.update(done, { part: current });
      },
      part(name) {
        current = name;
        bar.update(done, { part: current });
      },
      stop() {
        bar.stop();
      },
    };
  }
  let last = Date.now();
  const line = () => stream.write(`${label}: ${total ? Math.floor((done / total) * 100) : 100}% (${done}/${total})${current ? `, ${current}` : ''}\n`);
  return {
    add(n) {
      done += n;
      if (Date.now() - last >= PLAIN_EVERY_MS) {
        last = Date.now();
        line();
      }
    },
    part(name) {
      if (current) line();
      current = name;
    },
    stop() {
      line();
    },
  };
}

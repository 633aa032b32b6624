import { CliError, usageError } from './errors.js';

/**
 * The password for --password-stdin: everything on stdin, less one final newline (`echo pw |`,
 * a file, a secret manager). At a terminal, asked for without echo. Never from argv, where it
 * would end up in the shell history and in `ps`.
 */
export async function readPassword(input: NodeJS.ReadStream = process.stdin): Promise<string> {
  const text = input.isTTY ? await askHidden(input, 'Password: ') : await readAll(input);
  const password = text.replace(/\r?\n$/, '');
  if (password === '') throw new CliError('no password on stdin');
  return password;
}

export function requirePasswordStdin(flag: boolean | undefined): void {
  if (!flag) {
    throw usageError('give the password on stdin with --password-stdin (for example `printf %s "$PASSWORD" | pier ...`); it is never read from the command line');
  }
}

async function readAll(input: NodeJS.ReadStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of input) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk)));
  return Buffer.concat(chunks).toString('utf8');
}

function askHidden(input: NodeJS.ReadStream, prompt: string): Promise<string> {
  return new Promise((resolve, reject) => {
    process.stderr.write(prompt);
    let typed = '';
    input.setRawMode(true);
    input.setEncoding('utf8');
    input.resume();
    const done = (error?: Error) => {
      input.setRawMode(false);
      input.pause();
      input.off('data', onData);
      process.stderr.write('\n');
      if (error) reject(error);
      else resolve(typed);
    };
    const onData = (chunk: string) => {
      for (const char of chunk) {
        if (char === '\r' || char === '\n' || char === '\u0004') return done();
        if (char === '\u0003') return done(new CliError('cancelled'));
        if (char === '\u007f' || char === '\b') typed = [...typed].slice(0, -1).join('');
        else typed += char;
      }
    };
    input.on('data', onData);
  });
}

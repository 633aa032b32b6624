import { Writable } from 'node:stream';
import pino, { type Logger } from 'pino';

const LEVELS: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO ', 40: 'WARN ', 50: 'ERROR', 60: 'FATAL' };
const COLORS: Record<number, string> = { 10: '\x1b[90m', 20: '\x1b[90m', 30: '\x1b[32m', 40: '\x1b[33m', 50: '\x1b[31m', 60: '\x1b[35m' };
const OMIT = new Set(['level', 'time', 'msg', 'pid', 'hostname', 'reqId', 'err']);

/**
 * One readable line of a pino JSON line: `12:04:07 INFO  message key=value [request id]`, with the
 * error's stack under it. What `npm start` shows on a terminal; JSON stays what machines read.
 */
export function prettyLine(json: string, color: boolean): string {
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json;
  }
  const level = Number(entry.level);
  const time = new Date(typeof entry.time === 'number' ? entry.time : Date.now()).toISOString().slice(11, 19);
  const label = LEVELS[level] ?? String(entry.level);
  const fields = Object.entries(entry)
    .filter(([key]) => !OMIT.has(key))
    .map(([key, value]) => `${key}=${typeof value === 'string' ? (/\s/.test(value) ? JSON.stringify(value) : value) : JSON.stringify(value)}`);
  const id = entry.reqId !== undefined ? ` [${String(entry.reqId)}]` : '';
  const err = entry.err as { stack?: string; message?: string } | undefined;
  const head = color ? `\x1b[90m${time}\x1b[0m ${COLORS[level] ?? ''}${label}\x1b[0m` : `${time} ${label}`;
  return `${head} ${String(entry.msg ?? '')}${fields.length > 0 ? ` ${fields.join(' ')}` : ''}${id}${err ? `\n${err.stack ?? err.message ?? ''}` : ''}`;
}

/** `pretty` on a terminal unless told otherwise (`logFormat: json`), else JSON lines. */
export function createLogger(level: string, format: 'auto' | 'json' | 'pretty', stream: NodeJS.WriteStream = process.stdout): Logger {
  const pretty = format === 'pretty' || (format === 'auto' && stream.isTTY === true);
  if (!pretty) return pino({ level });
  const color = stream.isTTY === true && !process.env.NO_COLOR;
  let pending = '';
  const out = new Writable({
    write(chunk: Buffer, _encoding, done) {
      pending += chunk.toString('utf8');
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) if (line) stream.write(`${prettyLine(line, color)}\n`);
      done();
    },
  });
  return pino({ level }, out);
}

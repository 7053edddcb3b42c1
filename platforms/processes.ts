import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

/**
 * Node's arguments for running one of infrafed's TypeScript entry points: its modules' stripped JavaScript
 * kept on disk (runtime/tsCache.mjs), so the process never loads Node's type stripper (about 20 MiB).
 */
export const NODE_TS_ARGS: readonly string[] = ['--import', fileURLToPath(new URL('../runtime/tsCache.mjs', import.meta.url))];

/**
 * V8's `--optimize-for-size`, for the all-in-one process of `npm start`: idle components hold less (494 ->
 * ~420 MiB). The distributed mode and deployments keep V8's defaults: on the gateway the flag cut idle RSS
 * 165 -> 115 MiB and kept it near that after load (defaults: ~390 MiB), but served `regions` at about half
 * the rate in one bench run (docs/ARCHITECTURE.md, "What keeps the footprint small").
 */
export const NODE_SMALL_ARGS: readonly string[] = [...NODE_TS_ARGS, '--optimize-for-size'];

/**
 * The gateway's V8: `gc`, for its collection of all available garbage after a quiet minute
 * (runtime/idleGc.ts), which also gives the young generation's 64 MiB and the freed old pages back: idle
 * RSS 161 -> 116 MiB alone, and once collected after a burst 130 MiB instead of about 200 (docs/ARCHITECTURE.md,
 * "What keeps the footprint small"). Under load V8 keeps its defaults. Deployments pass the same flag
 * (docker-compose.yml).
 */
export const GATEWAY_NODE_ARGS: readonly string[] = ['--expose-gc'];

/** Ports this process has handed out: never the same one twice. */
const handedOut = new Set<number>();

/** The kernel's range for the local ports of outgoing connections (Linux; 32768-60999 by default). */
function ephemeralRange(): [number, number] {
  try {
    const [low, high] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    if (low && high) return [low, high];
  } catch {
    // not Linux: assume the IANA range
  }
  return [49152, 65535];
}

async function canBind(port: number): Promise<boolean> {
  const server = createServer();
  try {
    server.listen(port, '127.0.0.1');
    await once(server, 'listening');
    server.close();
    await once(server, 'close');
    return true;
  } catch {
    return false;
  }
}

/**
 * A port free on loopback, for a process that binds it later. Chosen below the kernel's ephemeral range:
 * a port from `listen(0)` lies inside it, and until it is bound any outgoing connection (a NATS route, a
 * client) may take it as its local port (seen: EADDRINUSE for a gateway port). Never the same twice here.
 */
/** Whether a process with this pid exists (one of another user's counts: signalling it is refused, not absent). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export async function freePort(): Promise<number> {
  const [low] = ephemeralRange();
  const top = Math.min(low, 32768);
  for (let attempt = 0; attempt < 500; attempt++) {
    const port = 10_000 + Math.floor(Math.random() * (top - 10_000));
    if (handedOut.has(port)) continue;
    if (await canBind(port)) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error('no free port below the ephemeral range');
}

export interface ManagedProcess {
  name: string;
  child: ChildProcess;
  /** The last lines it printed (stdout and stderr), for error messages. */
  tail(): string;
  /** All it printed since start. */
  output(): string;
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<number | null>;
}

export interface SpawnOptions {
  name: string;
  command: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Resolves once a line matches; the process failing or the timeout first rejects. */
  readyWhen?: RegExp;
  readyTimeoutMs?: number;
  /** Copy each line here (e.g. a prefixed console writer). */
  onLine?: (line: string) => void;
}

/** Spawns a process, keeps its output, and waits until it says it is ready. */
export async function spawnManaged(options: SpawnOptions): Promise<ManagedProcess> {
  const child = spawn(options.command, options.args, {
    env: options.env ?? process.env,
    cwd: options.cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let all = '';
  const lines: string[] = [];
  let ready: (() => void) | undefined;
  let partial = '';
  const onData = (chunk: Buffer) => {
    const text = partial + chunk.toString('utf8');
    all += chunk.toString('utf8');
    const parts = text.split('\n');
    partial = parts.pop() ?? '';
    for (const line of parts) {
      lines.push(line);
      if (lines.length > 40) lines.shift();
      options.onLine?.(line);
      if (options.readyWhen?.test(line)) ready?.();
    }
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  const managed: ManagedProcess = {
    name: options.name,
    child,
    tail: () => [...lines, partial].join('\n'),
    output: () => all,
    async stop(signal = 'SIGTERM', timeoutMs = 10_000) {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      const exited = once(child, 'exit');
      child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      try {
        const [code] = (await exited) as [number | null];
        return code;
      } finally {
        clearTimeout(timer);
      }
    },
  };
  if (!options.readyWhen) return managed;
  const timeoutMs = options.readyTimeoutMs ?? 30_000;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${options.name} was not ready within ${timeoutMs} ms:\n${managed.tail()}`)),
      timeoutMs,
    );
    ready = () => {
      clearTimeout(timer);
      resolve();
    };
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${options.name} exited with ${code} before it was ready:\n${managed.tail()}`));
    });
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
  return managed;
}

/** Runs a command to its end; rejects with its output when it fails. */
export async function run(command: string, args: string[], env?: NodeJS.ProcessEnv, onLine?: (line: string) => void): Promise<string> {
  const p = await spawnManaged({ name: command, command, args, env, onLine });
  const [code] = (await once(p.child, 'exit')) as [number | null];
  if (code !== 0) throw new Error(`${command} ${args.join(' ')} failed (${code}):\n${p.tail()}`);
  return p.output();
}

// The OKD API emulator as a process (the local system's stand-in for an OKD cluster's API server).
// Env: OKD_TOKEN (required), OKD_PORT (default: a free port), OKD_STATE_FILE (objects kept there between
// runs; in memory when unset). Prints one JSON line when ready.
import { startOkdEmulator } from './emulator.ts';

const token = process.env.OKD_TOKEN;
if (!token) {
  process.stderr.write('OKD_TOKEN is required\n');
  process.exit(1);
}
const emulator = await startOkdEmulator({
  token,
  port: Number(process.env.OKD_PORT ?? 0),
  stateFile: process.env.OKD_STATE_FILE || undefined,
});
process.stdout.write(`${JSON.stringify({ level: 30, name: 'okd-emulator', url: emulator.url, msg: 'okd emulator ready' })}\n`);
const stop = () => void emulator.close().then(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);

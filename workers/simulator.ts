/**
 * Simulator entry point for containers (the compose `sim` profile). Unlike
 * `livequeue simulate`, which keeps to 127.0.0.1, it listens on all
 * interfaces so workers in other containers can reach it. It accepts the
 * AccessKey in ALIBABA_CLOUD_ACCESS_KEY_ID / _SECRET, the same variables the
 * workers sign with.
 */
import { LiveApiSimulator } from '../src/sim/index.ts';

const PORT = 8787;
const id = process.env.ALIBABA_CLOUD_ACCESS_KEY_ID;
const secret = process.env.ALIBABA_CLOUD_ACCESS_KEY_SECRET;
const sim = new LiveApiSimulator({
  host: '0.0.0.0',
  port: PORT,
  accessKeys: id && secret ? { [id]: secret } : undefined,
  latencyMs: { min: 10, max: 30 },
});
process.stdout.write(`simulator listening on ${await sim.start()} (control API under /__sim/)\n`);
await new Promise<void>((resolve) => {
  process.once('SIGINT', resolve);
  process.once('SIGTERM', resolve);
});
await sim.stop();
process.exit(0);

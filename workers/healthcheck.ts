/**
 * The image's HEALTHCHECK, for whichever role the container runs (one image
 * serves both, and a healthcheck cannot see the command):
 *
 * - `serve`: its GET /healthz on HTTP_PORT (8080) answers; healthy on 200
 *   (Redis answers), unhealthy on 503 (Redis does not);
 * - `worker`: nothing listens on HTTP_PORT, so its GET /metrics on
 *   METRICS_PORT (9464); healthy while it shows `livequeue_redis_up 1`. The
 *   endpoint answers even while Redis is down, so the line decides.
 * - neither answers: unhealthy (a worker with METRICS_PORT=0 cannot be checked;
 *   turn the healthcheck off for it).
 *
 * Exit code 0 healthy, 1 unhealthy, with one line saying why (`docker inspect`
 * shows it). Reads only the environment, as the process it checks does; a
 * port given as a flag (`serve --port`) is not seen: in containers set HTTP_PORT.
 */
const TIMEOUT_MS = 4_000;

function port(name: string, fallback: number): number {
  const value = process.env[name];
  return value === undefined || value === '' ? fallback : Number(value);
}

/** The answer of GET http://127.0.0.1:port/path, or undefined when nothing answers there. */
async function get(port: number, path: string): Promise<{ status: number; body: string } | undefined> {
  if (!Number.isInteger(port) || port <= 0) return undefined;
  try {
    const response = await fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(TIMEOUT_MS) });
    return { status: response.status, body: await response.text() };
  } catch {
    return undefined;
  }
}

function exit(healthy: boolean, why: string): never {
  process.stdout.write(`${healthy ? 'healthy' : 'unhealthy'}: ${why}\n`);
  process.exit(healthy ? 0 : 1);
}

const httpPort = port('HTTP_PORT', 8080);
const server = await get(httpPort, '/healthz');
if (server) exit(server.status === 200, `livequeue serve on port ${httpPort}: /healthz answered ${server.status}`);

const metricsPort = port('METRICS_PORT', 9464);
const worker = await get(metricsPort, '/metrics');
if (worker) {
  const up = /^livequeue_redis_up 1$/m.test(worker.body);
  exit(up, `livequeue worker on port ${metricsPort}: ${up ? 'reaches Redis' : 'does not reach Redis (livequeue_redis_up is not 1)'}`);
}
exit(false, `nothing answers on 127.0.0.1:${httpPort}/healthz (serve) or 127.0.0.1:${metricsPort}/metrics (worker)`);

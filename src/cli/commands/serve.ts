import type { Command } from 'commander';
import { OPERATION_SLUGS } from '../../catalog/operations.ts';
import { configFor } from '../context.ts';
import { UsageError } from '../errors.ts';

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description(`HTTP API until SIGINT/SIGTERM: enqueue (POST ${OPERATION_SLUGS.map((slug) => `/v1/${slug}`).join(', ')}), job state (GET /v1/jobs/:id), batches, the dead-letter queue (/v1/dlq), outcomes as Server-Sent Events (/v1/events), history and the audit trail (/v1/history, /v1/audit), /healthz, /metrics and the dashboard at /ui.`)
    .option('--port <n>', 'port to listen on (HTTP_PORT, default 8080; 0 picks a free one)')
    .option('--host <address>', 'address to listen on (HTTP_HOST; default 0.0.0.0 with a token, else 127.0.0.1)')
    .addHelpText('after', `
Every route but /healthz and /metrics needs Authorization: Bearer <token>: LIVEQUEUE_API_TOKEN (every
scope), or a named token of LIVEQUEUE_API_TOKENS_FILE with its scopes (enqueue, operate, read); browsers
send the token as the Basic-auth password. Without a token the server listens on 127.0.0.1 only.

Examples:
  $ LIVEQUEUE_API_TOKEN=$(openssl rand -hex 24) livequeue serve --port 8080
  $ curl -H "Authorization: Bearer $LIVEQUEUE_API_TOKEN" -d '{"DomainName":"demo.aliyundoc.com","AppName":"liveApp","StreamName":"s1"}' \\
      -H 'content-type: application/json' http://127.0.0.1:8080/v1/forbid`)
    .action(async (opts: { port?: string; host?: string }, command: Command) => {
      const config = configFor(command, { HTTP_PORT: opts.port, HTTP_HOST: opts.host });
      // Loaded on use: the other commands do not pay for fastify and the dashboard.
      const { runHttpServer } = await import('../../http/run.ts');
      try {
        await runHttpServer(config);
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code === 'EADDRINUSE' || code === 'EACCES' || code === 'EADDRNOTAVAIL') {
          throw new UsageError(`cannot listen on ${config.http.host}:${config.http.port} (${code}): choose another --port / HTTP_PORT or --host / HTTP_HOST`);
        }
        throw error;
      }
    });
}

import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import './context.ts';

/**
 * The status page: one HTML file, one script, one style sheet
 * (src/http/status-page/, copied beside the compiled code by the build) and
 * uPlot from node_modules, all served from here. Its strict CSP allows
 * nothing from another origin and no inline script or style; the page holds no
 * token: the browser sends the Basic credentials it logged in with.
 */
const require = createRequire(import.meta.url);
const PAGE_DIR = fileURLToPath(new URL('./status-page/', import.meta.url));

const ASSETS = {
  'status.js': { path: `${PAGE_DIR}status.js`, type: 'text/javascript; charset=utf-8' },
  'status.css': { path: `${PAGE_DIR}status.css`, type: 'text/css; charset=utf-8' },
  'uPlot.iife.min.js': { path: require.resolve('uplot/dist/uPlot.iife.min.js'), type: 'text/javascript; charset=utf-8' },
  'uPlot.min.css': { path: require.resolve('uplot/dist/uPlot.min.css'), type: 'text/css; charset=utf-8' },
} as const;
const ASSET_NAMES = Object.keys(ASSETS) as [keyof typeof ASSETS, ...(keyof typeof ASSETS)[]];
const PAGE = { path: `${PAGE_DIR}index.html`, type: 'text/html; charset=utf-8' };

const HEADERS = {
  'content-security-policy': "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; connect-src 'self'; object-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-cache',
};

const cache = new Map<string, Buffer>();

/** A file of the page, read once. A missing one names itself and the build step that copies it. */
async function fileOf(path: string): Promise<Buffer> {
  let content = cache.get(path);
  if (content) return content;
  try {
    content = await readFile(path);
  } catch (error) {
    throw new Error(`status page file ${path} cannot be read (${(error as NodeJS.ErrnoException).code}): npm run build copies src/http/status-page/ into dist/`, { cause: error });
  }
  cache.set(path, content);
  return content;
}

function pageRoutes(): FastifyPluginAsyncZod {
  return async (app) => {
    app.addHook('onSend', async (_request, reply, payload) => {
      reply.headers(HEADERS);
      return payload;
    });
    app.get('/', { config: { scope: 'read' } }, async (_request, reply) => reply.type(PAGE.type).send(await fileOf(PAGE.path)));
    app.get(
      '/assets/:name',
      { config: { scope: 'read' }, schema: { params: z.object({ name: z.enum(ASSET_NAMES, { error: `name must be one of ${ASSET_NAMES.join(', ')}` }) }) } },
      async (request, reply) => {
        const asset = ASSETS[request.params.name];
        return reply.type(asset.type).send(await fileOf(asset.path));
      },
    );
  };
}

/** The status page at `path`/ and its assets at `path`/assets/. */
export async function registerStatusPage(app: FastifyInstance, path: string): Promise<void> {
  await app.register(pageRoutes(), { prefix: path });
}

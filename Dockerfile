# syntax=docker/dockerfile:1
# toolgate runs its TypeScript directly on Node 24 (type stripping): no build stage is needed,
# only a clean production install.
# The base is pinned by digest (node:24-bookworm-slim as of Node 24.18.0), so that a rebuild gets the
# same Node and Debian packages; to move it, take the new digest from
# `docker buildx imagetools inspect node:24-bookworm-slim` and pass it as --build-arg NODE_IMAGE=... or edit it here.
ARG NODE_IMAGE=node:24-bookworm-slim@sha256:6f7b03f7c2c8e2e784dcf9295400527b9b1270fd37b7e9a7285cf83b6951452d
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-fund --no-audit

FROM ${NODE_IMAGE} AS runtime
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
# `toolgate healthcheck` asks /healthz where this environment says toolgate listens (HOST, PORT, or
# TOOLGATE_HEALTH_PORT), the loopback address when it listens on every address.
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
  CMD ["node", "src/cli/toolgate.js", "healthcheck"]
# Exec form: SIGTERM reaches node itself, which drains the batches in flight before exiting.
CMD ["node", "src/cli/toolgate.js"]

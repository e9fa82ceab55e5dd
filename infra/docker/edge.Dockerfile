# syntax=docker/dockerfile:1
# The edge (the public API) on Node: edge/node/server.ts with SQLite at ${DATA_DIR}/edge.sqlite (migrations applied at
# start) and objects in any S3-protocol store. Keep DATA_DIR on a volume; run ONE edge per database (SQLite has one
# writer). Tokens and S3 settings come from the environment (edge/config.ts, docs/deploy.md "Containers").
# The same image runs the compose file's one-shot `bucket` service (infra/docker/ensure-bucket.ts).
#
#   docker build -f infra/docker/edge.Dockerfile -t cocoop-edge .      (from the repository root)
ARG NODE_IMAGE=node:20-bookworm-slim

# Production dependencies; better-sqlite3's native addon is compiled here (python3, make, g++ stay in this stage).
FROM ${NODE_IMAGE} AS deps
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
RUN npm install -g npm@11.19.1
WORKDIR /app
COPY package.json package-lock.json ./
COPY infra/docker/install.sh infra/docker/install.sh
RUN infra/docker/install.sh edge

FROM ${NODE_IMAGE}
ENV NODE_ENV=production \
    DATA_DIR=/data \
    HOST=0.0.0.0 \
    PORT=8787 \
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=true
RUN groupadd --system --gid 10001 cocoop \
 && useradd --system --uid 10001 --gid cocoop --home-dir /data --no-create-home --shell /usr/sbin/nologin cocoop \
 && mkdir -p /data \
 && chown cocoop:cocoop /data
WORKDIR /app
COPY --from=deps /app/node_modules node_modules
COPY package.json tsconfig.json ./
COPY bin bin
COPY shared shared
COPY edge edge
COPY infra/migrations infra/migrations
COPY infra/docker/ensure-bucket.ts infra/docker/ensure-bucket.ts
USER 10001:10001
EXPOSE 8787
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 8787) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["node", "bin/run-ts.mjs", "edge/node/server.ts"]

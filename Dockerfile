# GateSvr container image (seed section 6.2), multi-stage:
#   build    installs every dependency and compiles TypeScript to dist/
#   runtime  production dependencies + dist/ only, runs as the node user
#
#   docker build -t gatesvr .
#   docker run --rm -p 8453:8453/udp -p 8080:8080 -p 9090:9090 gatesvr
# The push API listens on the container's loopback by default; to publish it, guard it:
#   docker run ... -e GATESVR_GRPC_ADDR=:8092 -e GATESVR_PUSH_API_TOKEN="$(openssl rand -hex 32)" -p 8092:8092 gatesvr
#
# The same image runs the demo upstreams: `docker run gatesvr demo-upstreams --host 0.0.0.0`.

FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
# `npm run build` first generates src/gen/ from proto/ (scripts/generate.mjs, protobufjs-cli).
COPY scripts/generate.mjs ./scripts/
COPY proto ./proto
COPY src ./src
RUN npm run build

FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY config ./config
USER node
# QUIC (UDP), HTTP (health, stats, admin, operator page), gRPC (producer pushes), Prometheus
EXPOSE 8453/udp 8080 8092 9090
# /health is 200 only while this gateway serves; a standing-by backup answers 503
# (compose overrides the backup's check with /live). No curl/wget in the slim image.
HEALTHCHECK --interval=10s --timeout=3s --start-period=15s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.GATESVR_HEALTH_PORT||'8080')+'/health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
ENTRYPOINT ["node", "dist/src/cli/main.js"]
CMD ["--config", "config/gatesvr.yaml"]

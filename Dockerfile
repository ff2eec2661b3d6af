# Trove node image for the multi-peer rig (docker-compose.yml, docs/rig.md) and for lab use.
# Build stage: compile TypeScript, then keep only the runtime dependencies.
FROM node:24-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json tsconfig.json ./
COPY src ./src
COPY test ./test
COPY bench ./bench
COPY scripts/build-ui.mjs ./scripts/build-ui.mjs
# `npm ci` runs the `prepare` script, which is the TypeScript build
RUN npm ci --no-audit --no-fund && npm prune --omit=dev --no-audit --no-fund

FROM node:24-bookworm-slim
WORKDIR /app
COPY --from=build /src/package.json ./
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist/src ./dist/src
COPY --from=build /src/dist/ui ./dist/ui
COPY rig/entrypoint.mjs ./rig/entrypoint.mjs
RUN chmod 0755 dist/src/cli/bin.js rig/entrypoint.mjs \
 && ln -s /app/dist/src/cli/bin.js /usr/local/bin/trove \
 && mkdir -p /data /rig && chown node:node /data /rig
# The image's own user (uid 1000): volumes mounted on /data and /rig take its ownership
USER node
ENV TROVE_DATA=/data NODE_ENV=production
VOLUME ["/data"]
# libp2p (TCP). The HTTP API stays on the container's loopback: use `docker compose exec PEER trove ...`
EXPOSE 4737
# Healthy once the node answers GET /health on the API it announced in api.json; never opens the
# data directory itself, so a check cannot take the database lock from a node that is starting
HEALTHCHECK --interval=5s --timeout=5s --start-period=10s --retries=6 \
  CMD node -e 'const u=JSON.parse(require("fs").readFileSync(process.env.TROVE_DATA+"/api.json","utf8")).url;fetch(u+"/health").then(r=>r.json()).then(h=>process.exit(h.status==="up"?0:1),()=>process.exit(1))' || exit 1
ENTRYPOINT ["node", "/app/rig/entrypoint.mjs"]
CMD ["start", "--listen", "/ip4/0.0.0.0/tcp/4737", "--no-mdns"]

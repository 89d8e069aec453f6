# syntax=docker/dockerfile:1
# Huddle node image: `docker compose up` runs three of these behind nginx.
#
# Two stages: the first installs every dependency and bundles the server
# (dist/server.js) and the web client (dist/web/); the second holds only the
# production dependencies and that bundle, and runs as an unprivileged user.

FROM node:20-slim AS build
WORKDIR /app
# Manifests first, so the dependency layer stays cached while sources change.
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY scripts ./scripts
COPY shared ./shared
COPY server ./server
# The client package: the web UI bundles its sources, and `npm run build` builds it too.
COPY client ./client
COPY web ./web
RUN npm run build

FROM node:20-slim AS runtime
ENV NODE_ENV=production \
    PORT=3000 \
    HOST=0.0.0.0
WORKDIR /app
COPY package.json package-lock.json ./
# The bundle keeps its npm packages external, so they are installed here,
# without the dev dependencies (compilers, test tools).
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
# The image's unprivileged user (uid 1000); the app writes nothing to disk.
USER node
EXPOSE 3000
# The slim image has no curl: ask Node itself (global fetch, Node >= 18).
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# SIGTERM starts the drain (readyz 503, clients told to reconnect, exit within 10 s).
STOPSIGNAL SIGTERM
CMD ["node", "--enable-source-maps", "dist/server.js"]

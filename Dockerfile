# One image for every app; the command picks the app's bundle (see docker-compose.yml).
# Build stage: every dependency, then esbuild bundles each app into apps/<app>/dist/main.mjs
# (scripts/apps.mjs: the workspace TypeScript inlined, npm packages left as imports).
FROM node:22-bookworm-slim AS build
WORKDIR /app
COPY . .
RUN npm ci --no-audit --no-fund && npm run build

# Runtime: production dependencies only (the bundles import them from node_modules) and the bundles.
# The CLI still runs from source through tsx: node --import tsx apps/cli/src/main.ts <command>
FROM node:22-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY . .
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force \
  && (chown -R node:node /app/.qpc 2>/dev/null || true)
COPY --from=build /app/apps ./apps
USER node
# the Node flags of scripts/apps.mjs (V8's young and old generations capped: lower peak memory); a larger
# heap for one service: command: ["--max-old-space-size=512", "apps/worker-parse/dist/main.mjs"]
ENTRYPOINT ["node", "--max-semi-space-size=4", "--max-old-space-size=192"]
CMD ["apps/api/dist/main.mjs"]

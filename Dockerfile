# One image for every app; the command picks the app (see docker-compose.yml).
# TypeScript runs through tsx, as in development: no separate build output to drift from the source.
FROM node:22-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY . .
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force \
  && chown -R node:node /app/.qpc 2>/dev/null || true
USER node
# the Node flags of scripts/start.mjs (a smaller young generation: lower peak memory)
ENTRYPOINT ["node", "--max-semi-space-size=4", "--import", "tsx"]
CMD ["apps/api/src/main.ts"]

# Confab in a container: built in one stage, run in a smaller one as the unprivileged `node` user.
# Not built on the machines Confab is developed on (they run no Docker engine): the commands and
# variables below are the ones scripts/deploy.test.ts runs and checks (docs/operations.md, "Containers and services").
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY . .
# `npm ci` builds too (the root's `prepare`: SDK, web app, server); install scripts stay on (argon2).
RUN npm ci --no-audit --no-fund && npm prune --omit=dev --no-audit --no-fund

FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
ENV DATA_DIR=/data
ENV PORT=3000
COPY --from=build --chown=node:node /app /app
RUN mkdir -p /data && chown node:node /data
USER node
VOLUME /data
EXPOSE 3000
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 CMD ["node", "packages/server/bin/healthcheck.mjs"]
CMD ["node", "--enable-source-maps", "packages/server/dist/main.js"]

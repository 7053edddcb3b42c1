# One image for every component; the command picks the deployable (see docker-compose.yml).
FROM node:24-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production APOLLO_TELEMETRY_DISABLED=true
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund
COPY schema ./schema
COPY runtime ./runtime
COPY resources ./resources
COPY adapters ./adapters
COPY controller ./controller
COPY subgraphs ./subgraphs
COPY gateway ./gateway
COPY rest-bridge ./rest-bridge
# every module's stripped JavaScript kept ahead of time: no component loads Node's type stripper
RUN node runtime/tsCache.mjs --warm
ENV NODE_OPTIONS="--import /app/runtime/tsCache.mjs"
USER node
# e.g. node gateway/main.ts; configuration from INFRAFED_CONFIG, secrets from the environment
CMD ["node", "gateway/main.ts"]

# One image for every platform process; the container's command picks which one:
#   docker run ecandidat:local python -m services.candidatures
#   docker run -p 8080:8080 ecandidat:local            (the gateway, by default)
#   docker run ecandidat:local python -m web           (the espace candidat; the gateway's WEB_URL)
# The espace candidat's design system (the DSFR), from its npm package as package-lock.json pins it.
FROM node:20-slim AS web-assets
WORKDIR /assets
COPY package.json package-lock.json .npmrc ./
RUN npm ci --omit=dev --no-audit --no-fund

FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# The dependencies in their own layer, rebuilt only when pyproject.toml changes. Only the runtime
# dependencies: the `local` and `dev` extras (embedded servers, test tools) stay out of the image.
# scripts/install_runtime.py is the one description of this install: the test suite runs it too
# (tests/integration/test_image_install.py) and starts every process from what it installed.
COPY pyproject.toml ./
COPY scripts/install_runtime.py /usr/local/lib/ecandidat/install_runtime.py
RUN python /usr/local/lib/ecandidat/install_runtime.py dependencies .

COPY ecandidat ./ecandidat
COPY services ./services
COPY gateway ./gateway
COPY web ./web
COPY --from=web-assets /assets/node_modules ./node_modules
ENV WEB_ASSETS_DIR=/app/node_modules
RUN python /usr/local/lib/ecandidat/install_runtime.py project . \
    && useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin ecandidat

USER ecandidat
# 8080: the gateway's HTTP API; 9100: the internal /metrics and probe listener (METRICS_PORT).
EXPOSE 8080 9100
# Each process stops gracefully on SIGTERM: services finish their work in progress, the gateway
# its requests in flight (GATEWAY_SHUTDOWN_TIMEOUT); give them a grace period longer than that.
CMD ["python", "-m", "gateway"]

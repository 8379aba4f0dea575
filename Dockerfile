# One image for every platform process; the container's command picks which one:
#   docker run ecandidat:local python -m services.candidatures
#   docker run -p 8080:8080 ecandidat:local            (the gateway, by default)
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# The dependencies in their own layer, rebuilt only when pyproject.toml changes. Only the runtime
# dependencies: the `local` and `dev` extras (embedded servers, test tools) stay out of the image.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

COPY ecandidat ./ecandidat
COPY services ./services
COPY gateway ./gateway
RUN pip install --no-deps . \
    && useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin ecandidat

USER ecandidat
EXPOSE 8080
# Each process stops gracefully on SIGTERM (docker stop), within the default 10 s.
CMD ["python", "-m", "gateway"]

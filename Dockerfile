# One image for both services; docker-compose.yml picks the command.
# It installs the project the way the README's quick start does: `make install`.
FROM python:3.11-slim

RUN apt-get update \
    && apt-get install -y --no-install-recommends make nodejs npm \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY . .
RUN make install

ENV PATH=/app/.venv/bin:$PATH
EXPOSE 50051 50052
CMD ["router-service", "--config", "/app/config/router.json", "--listen", "0.0.0.0:50051"]

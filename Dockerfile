# The application image used by docker-compose.yml for the API, the workers and the migration job.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY api ./api
COPY activities ./activities
COPY domain ./domain
COPY integrations ./integrations
COPY orchestration ./orchestration
COPY workflows ./workflows
COPY migrations ./migrations
COPY cli ./cli
COPY observability ./observability
COPY sandboxes ./sandboxes
COPY devstack ./devstack
COPY settings.py worker.py ./
RUN pip install --no-cache-dir . && useradd --system --uid 10001 app
USER app
ENV APP_ENV=production

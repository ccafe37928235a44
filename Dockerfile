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
COPY settings.py worker.py process_gc.py ./
# Bytecode compiled into the image: the app runs from /app, which its user cannot write, and the workflow sandbox
# re-imports a workflow's module for every workflow it loads into its cache (docs/performance.md, "Transitions"):
# without a .pyc each of those compiles the module's source again, about 5 ms of a cold transition's CPU.
RUN pip install --no-cache-dir . && python -m compileall -q /app && useradd --system --uid 10001 app
USER app
ENV APP_ENV=production

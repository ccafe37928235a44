#!/bin/sh
# Run once by the postgres image on a fresh data volume (docker-compose.yml mounts this directory as
# /docker-entrypoint-initdb.d). The API and workers log in as taxpractice_api, whose only rights are those of
# taxpractice_app (granted by migration 0012_audit_chain: rows read and written, the audit log appended to and
# read, nothing owned), so not even arbitrary SQL run through the app can reach the owner's rights. The owner
# (POSTGRES_USER) is left to the migration job. An existing volume: run the two statements once by hand
# (docs/security.md, "The database roles").
set -eu
psql -v ON_ERROR_STOP=1 -v app_password="$APP_DB_PASSWORD" --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" <<'SQL'
CREATE ROLE taxpractice_app NOLOGIN;
CREATE ROLE taxpractice_api LOGIN PASSWORD :'app_password' IN ROLE taxpractice_app;
SQL

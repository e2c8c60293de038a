#!/bin/sh
# First start of the PostgreSQL container: two roles, neither a superuser.
#   amend_owner  owns the database and its tables; only `migrate` (and grant_app_role after it) log in as it.
#   amend_app    what the web app, beat and workers use: read/write on tables, but on the audit table
#                SELECT and INSERT only (granted by `manage.py grant_app_role amend_app` after each migrate).
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
  -v owner_pw="$AMEND_OWNER_PASSWORD" -v app_pw="$AMEND_APP_PASSWORD" <<'SQL'
CREATE ROLE amend_owner LOGIN NOSUPERUSER NOCREATEROLE NOCREATEDB PASSWORD :'owner_pw';
CREATE ROLE amend_app LOGIN NOSUPERUSER NOCREATEROLE NOCREATEDB PASSWORD :'app_pw';
CREATE DATABASE amend OWNER amend_owner;
REVOKE ALL ON DATABASE amend FROM PUBLIC;
GRANT CONNECT ON DATABASE amend TO amend_app;
\connect amend
ALTER SCHEMA public OWNER TO amend_owner;
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
SQL

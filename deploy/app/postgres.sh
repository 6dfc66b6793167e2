#!/bin/sh
# PostgreSQL 15 for the deployment tests, from Debian's postgresql-15 in the app's base image.
# Runs as the image's postgres user with its data in $PGDATA (default /tmp/pgdata: a tmpfs in
# the tests). On first start it makes the cluster and the app's role and database:
#   POSTGRES_DB, POSTGRES_USER (the app's role, default patas) and its password from
#   POSTGRES_PASSWORD_FILE (a Swarm secret or a mounted file) or POSTGRES_PASSWORD.
# Local socket connections (docker exec ... psql -U postgres) are trusted, so an operator can
# rotate the password with ALTER ROLE; TCP connections need scram-sha-256.
set -eu
PGDATA="${PGDATA:-/tmp/pgdata}"
export PGDATA
db="${POSTGRES_DB:-patas}"
user="${POSTGRES_USER:-patas}"
if [ -n "${POSTGRES_PASSWORD_FILE:-}" ]; then
	password="$(cat "$POSTGRES_PASSWORD_FILE")"
else
	password="${POSTGRES_PASSWORD:?set POSTGRES_PASSWORD or POSTGRES_PASSWORD_FILE}"
fi
if [ ! -s "$PGDATA/PG_VERSION" ]; then
	initdb -D "$PGDATA" -U postgres --auth-local=trust --auth-host=scram-sha-256 -E UTF8 >/dev/null
	printf 'local all all trust\nhost all all 0.0.0.0/0 scram-sha-256\nhost all all ::/0 scram-sha-256\n' >"$PGDATA/pg_hba.conf"
	pg_ctl -D "$PGDATA" -o "-c listen_addresses='' -c unix_socket_directories=/tmp" -w start >/dev/null
	# The password reaches psql through a 0600 file read by \set, never a command line.
	umask 077
	printf '%s' "$password" >"$PGDATA/.pw"
	psql -h /tmp -U postgres -v ON_ERROR_STOP=1 -q -v user="$user" -v db="$db" postgres <<-'SQL'
		\set pw `cat "$PGDATA/.pw"`
		CREATE ROLE :"user" LOGIN PASSWORD :'pw';
		CREATE DATABASE :"db" OWNER :"user";
	SQL
	rm -f "$PGDATA/.pw"
	pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
fi
unset password POSTGRES_PASSWORD
exec postgres -D "$PGDATA" -c listen_addresses='*' -c unix_socket_directories=/tmp

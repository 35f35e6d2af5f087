#!/bin/sh
# What docker-compose.yaml relies on of the official image's entrypoint: on an empty data
# directory, create the cluster with POSTGRES_USER and POSTGRES_PASSWORD (scram-sha-256 over
# TCP from anywhere, trust on the local socket), create POSTGRES_DB, then run the server as the
# postgres user, listening on every address. No init scripts, no other variables.
set -eu

if [ "${1#-}" != "$1" ]; then
    set -- postgres "$@"
fi
if [ "$1" != postgres ]; then
    exec "$@"
fi

if [ "$(id -u)" = 0 ]; then
    mkdir -p "$PGDATA" /var/run/postgresql
    chown postgres:postgres "$PGDATA" /var/run/postgresql
    chmod 700 "$PGDATA"
    exec setpriv --reuid=postgres --regid=postgres --init-groups "$0" "$@"
fi

if [ ! -s "$PGDATA/PG_VERSION" ]; then
    : "${POSTGRES_PASSWORD:?the postgres stand-in needs POSTGRES_PASSWORD}"
    user=${POSTGRES_USER:-postgres}
    database=${POSTGRES_DB:-$user}
    password_file=$(mktemp)
    printf '%s\n' "$POSTGRES_PASSWORD" > "$password_file"
    initdb --pgdata="$PGDATA" --username="$user" --pwfile="$password_file" \
        --auth-local=trust --auth-host=scram-sha-256 --encoding=UTF8 --locale=C.UTF-8 >/dev/null
    rm -f "$password_file"
    echo "host all all all scram-sha-256" >> "$PGDATA/pg_hba.conf"
    echo "listen_addresses = '*'" >> "$PGDATA/postgresql.conf"
    pg_ctl --pgdata="$PGDATA" --options="-c listen_addresses=''" --wait --silent start
    if [ "$database" != postgres ]; then
        echo 'CREATE DATABASE :"database";' \
            | psql --quiet --no-psqlrc --set=ON_ERROR_STOP=1 --set=database="$database" \
                --username="$user" --dbname=postgres
    fi
    pg_ctl --pgdata="$PGDATA" --mode=fast --wait --silent stop
    echo "stand-in for postgres: database cluster initialised, database $database created"
fi

exec "$@"

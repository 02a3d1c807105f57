#!/bin/bash
# A central office and three demo sites on this machine, PostgreSQL
# included: a throwaway PostgreSQL cluster, `custos central serve`, and
# three `custos demo` sites enrolled with it, each with its two synthetic
# cameras. Everything lives under DIR (default custos-central-demo); run it
# again to start the same centre and sites again. Ctrl-C stops all of it.
#
#   bash scripts/central-demo.sh [DIR]
#
# CUSTOS_BIN names a custos binary to use instead of building one;
# CENTRAL_DEMO_PORT the first of the ports used (default 8480: the centre,
# then 8481-8483 for the sites, 8479 for PostgreSQL).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
dir=$(mkdir -p "${1:-custos-central-demo}" && cd "${1:-custos-central-demo}" && pwd)
port=${CENTRAL_DEMO_PORT:-8480}
pg_port=$((port - 1))
sites=(north-archive harbour-records village-3)

if [ -z "${CUSTOS_BIN:-}" ]; then
    bash "$root/scripts/install-deps.sh"
    (cd "$root" && cargo build --release -p custos)
    CUSTOS_BIN=$root/target/release/custos
fi
custos=$CUSTOS_BIN

# PostgreSQL refuses to run as root: as root the cluster is postgres's.
pg_bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
as_pg() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
if [ ! -d "$dir/pg" ]; then
    mkdir -p "$dir/pg"
    [ "$(id -u)" = 0 ] && chown postgres:postgres "$dir/pg"
    as_pg "$pg_bin/initdb" -D "$dir/pg" -U postgres -A trust -E UTF8 >/dev/null
fi
as_pg "$pg_bin/pg_ctl" -D "$dir/pg" -l "$dir/pg/server.log" -w \
    -o "-p $pg_port -k $dir/pg -c listen_addresses=127.0.0.1" start >/dev/null
pids=()
stop() {
    trap - INT TERM EXIT
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    as_pg "$pg_bin/pg_ctl" -D "$dir/pg" -m fast -w stop >/dev/null || true
}
trap stop INT TERM EXIT
if ! as_pg "$pg_bin/psql" -h 127.0.0.1 -p "$pg_port" -U postgres -Atc \
    "SELECT 1 FROM pg_database WHERE datname = 'custos_central'" | grep -q 1; then
    as_pg "$pg_bin/createdb" -h 127.0.0.1 -p "$pg_port" -U postgres custos_central
fi

central=$dir/central.toml
cat >"$central" <<TOML
listen = "127.0.0.1:$port"
public_url = "http://127.0.0.1:$port"
witness_name = "central-demo.custos.local/witness"
witness_key_file = "$dir/witness.key"
[database]
url = "host=127.0.0.1 port=$pg_port user=postgres dbname=custos_central"
TOML
"$custos" central serve --config "$central" >"$dir/central.log" 2>&1 &
pids+=($!)
# The centre listens once its database is ready.
listening() { (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; }
for _ in $(seq 100); do
    listening && break
    sleep 0.2
done
listening || { echo "the central office did not start; see $dir/central.log" >&2; exit 1; }

# A central admin with a password made here and shown once (no default
# passwords), on the first run only.
admin_password=
if [ ! -e "$dir/admin-created" ]; then
    admin_password=$(head -c 18 /dev/urandom | base64 | tr '+/' '-_')
    printf '%s\n' "$admin_password" |
        "$custos" central user add admin --role admin --password-stdin --config "$central" >/dev/null
    touch "$dir/admin-created"
fi

# The sites share the demo's clips, encoded once.
mkdir -p "$dir/clips"
i=0
for site in "${sites[@]}"; do
    i=$((i + 1))
    mkdir -p "$dir/$site"
    ln -sfn ../clips "$dir/$site/clips"
    # The code is kept until the site has used it (a site enrolled already
    # ignores it).
    if [ ! -s "$dir/$site/enrol-code" ]; then
        "$custos" central site add "$site" --config "$central" |
            sed -n '/^enrolment code/{n;p;}' >"$dir/$site/enrol-code"
    fi
    code=$(cat "$dir/$site/enrol-code")
    # Somewhere on the map, two sites in the north region.
    region=north; [ "$i" = 2 ] && region=coast
    "$custos" central site place "$site" --region "$region" \
        --latitude "$((58 + i)).$((i * 17))" --longitude "$((14 + 2 * i)).$((i * 31))" \
        --config "$central" >/dev/null
    "$custos" demo --dir "$dir/$site" --listen "127.0.0.1:$((port + i))" --site "$site" \
        --central "http://127.0.0.1:$port" --enrol-code "$code" >"$dir/$site.log" 2>&1 &
    pids+=($!)
done

cat <<EOF
A central office and ${#sites[@]} sites are running (logs in $dir/*.log).
  the centre:  http://127.0.0.1:$port/ (user admin, ${admin_password:+password $admin_password}${admin_password:-the password shown at the first run})
               custos central site list --config $central
               custos central alerts --config $central
               custos central where ITEM --config $central
  the sites:   http://127.0.0.1:$((port + 1))/ http://127.0.0.1:$((port + 2))/ http://127.0.0.1:$((port + 3))/
               (each site's admin password is in $dir/SITE.log)
  witness key: $(sed -n 's/^witness key: //p' "$dir/central.log" | head -1)
Ctrl-C stops them all.
EOF
wait

#!/bin/bash
# Bootstraps (first run only) and starts Keystone (:5000) and Neutron API (:9696) on 127.0.0.1, each as a
# single-process uwsgi app, in the background. PIDs go to $STATE_DIR/pids (used by stop.sh).
#   RESET=1 ./start.sh   -> restore pristine DB snapshots taken at first bootstrap (fresh cloud in ~1 s)
#   DB_BACKEND=mariadb   -> Neutron on a private mariadbd (real alembic migrations) instead of SQLite
set -euo pipefail
cd "$(dirname "$0")"
. ./common.sh

if [ "$WITH_NOVA" = 1 ] && [ ! -x "$NOVA_ROOT/usr/bin/nova-api-wsgi" ]; then echo "run WITH_NOVA=1 ./install.sh first" >&2; exit 1; fi
write_configs   # regenerated every start (cheap; picks up DB_BACKEND / WITH_NOVA / ports)
mkdir -p "$LOG"
if [ -s "$PIDFILE" ]; then
  while read -r name pid; do
    if kill -0 "$pid" 2>/dev/null; then echo "$name already running (pid $pid); run stop.sh first" >&2; exit 1; fi
  done < "$PIDFILE"
fi
: > "$PIDFILE"

KC=(--config-file "$ETC/keystone/keystone.conf")
NC=(--config-file "$ETC/neutron/neutron.conf" --config-file "$ETC/neutron/ml2_conf.ini")
KDB="$STATE_DIR/keystone/keystone.db"
NDB="$STATE_DIR/neutron/neutron.db"
MY="$STATE_DIR/mysql"
# keystone-manage/neutron-db-manage print a harmless eventlet traceback at interpreter exit; keep it in a log
quiet() { "$@" >>"$LOG/bootstrap.log" 2>&1 || { echo "FAILED: $* (see $LOG/bootstrap.log)" >&2; tail -20 "$LOG/bootstrap.log" >&2; exit 1; }; }
step() { local n="$1"; shift; local t0; t0=$(ms); "$@"; log "$n: $(( $(ms) - t0 )) ms"; }

wait_http() { # url pid timeout_s
  local t0 end; t0=$(ms); end=$(( t0 + $3 * 1000 ))
  until [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$1" || true)" = 200 ]; do
    kill -0 "$2" 2>/dev/null || { echo "server for $1 died; see $LOG" >&2; exit 1; }
    [ "$(ms)" -lt "$end" ] || { echo "timeout waiting for $1" >&2; exit 1; }
    sleep 0.1
  done
}

start_uwsgi() { # name port wsgi-script log [--env K=V ...]
  local name="$1" port="$2" script="$3" logf="$4"; shift 4
  # single process, single thread: SQLite connections must not cross threads, and the in-memory cache stays coherent;
  # a session of its own: a terminal's Ctrl-C reaches only whoever started it (`npm start` keeps them running)
  setsid nohup uwsgi --plugins python3 --http-socket "127.0.0.1:$port" --wsgi-file "$(command -v "$script")" "$@" \
    --master --processes 1 --threads 1 --lazy-apps --die-on-term --no-orphans --need-app \
    --buffer-size 65535 --add-header 'Connection: close' --logto "$logf" >/dev/null 2>&1 &
  echo "$name $!" >> "$PIDFILE"
  eval "PID_$name=$!"
}

if [ "${RESET:-0}" = 1 ]; then
  [ -f "$KDB.pristine" ] && cp "$KDB.pristine" "$KDB" || rm -f "$KDB"
  for f in "$STATE_DIR"/nova/nova_api.db "$STATE_DIR"/nova/nova_cell0.db; do [ -f "$f.pristine" ] && cp "$f.pristine" "$f"; done
  if [ "$DB_BACKEND" = sqlite ]; then [ -f "$NDB.pristine" ] && cp "$NDB.pristine" "$NDB" || rm -f "$NDB"
  else rm -f "$STATE_DIR/neutron/.mariadb-ready"; fi
  log "RESET: databases restored"
fi

# ---------------- Bootstrap (first run of a state dir) ----------------
# Keystone, Neutron's and Nova's databases are made side by side. Each is kept as a template per machine
# (<root>/<package versions>/, Keystone's per region and admin password), so a new state dir copies them in
# under a second instead of running ~35 s of migrations; keys are generated per state dir. The root is
# /var/lib/infrafed/openstack-templates beside the extracted nova (every clone on the machine shares them),
# or .local/openstack-templates of this clone where that cannot be written; OPENSTACK_TEMPLATES overrides.
if [ -z "${OPENSTACK_TEMPLATES:-}" ]; then
  OPENSTACK_TEMPLATES=/var/lib/infrafed/openstack-templates
  { mkdir -p "$OPENSTACK_TEMPLATES" && chmod 700 "$OPENSTACK_TEMPLATES" && [ -w "$OPENSTACK_TEMPLATES" ]; } 2>/dev/null \
    || OPENSTACK_TEMPLATES="$(cd ../.. && pwd)/.local/openstack-templates"
fi
TEMPLATES="$OPENSTACK_TEMPLATES/$(
  { echo format-1; dpkg-query -W -f='${Package} ${Version}\n' keystone python3-keystone python3-neutron 2>/dev/null
    ls "$NOVA_ROOT/usr/lib/python3/dist-packages" 2>/dev/null | grep -E '^nova-.*-info$'; } | md5sum | cut -c1-12)"
mkdir -p "$TEMPLATES"
KTEMPLATE="$TEMPLATES/keystone-$OS_REGION-$(printf %s "$ADMIN_PASSWORD" | md5sum | cut -c1-8).db"
save_template() { # sqlite-db template: an atomic copy (another start may be reading or writing the same one)
  sqlite3 "$1" ".backup '$2.$$'" && mv -f "$2.$$" "$2"
}
# a Fernet key (keystone-manage fernet_setup/credential_setup write the same: 32 random bytes, URL-safe base64)
fernet_keys() { mkdir -p "$1"; chmod 700 "$1"; for k in 0 1; do head -c 32 /dev/urandom | base64 | tr '+/' '-_' | tr -d '\n' > "$1/$k"; chmod 600 "$1/$k"; done; }

bootstrap_keystone() {
  [ -d "$STATE_DIR/keystone/fernet-keys" ] || fernet_keys "$STATE_DIR/keystone/fernet-keys"
  [ -d "$STATE_DIR/keystone/credential-keys" ] || fernet_keys "$STATE_DIR/keystone/credential-keys"
  if [ -f "$KTEMPLATE" ]; then cp "$KTEMPLATE" "$KDB"; log "keystone database from template"; return; fi
  step "keystone db_sync" quiet keystone-manage "${KC[@]}" db_sync
  step "keystone bootstrap" quiet keystone-manage "${KC[@]}" bootstrap \
    --bootstrap-username admin --bootstrap-password "$ADMIN_PASSWORD" --bootstrap-project-name admin \
    --bootstrap-role-name admin --bootstrap-service-name keystone --bootstrap-region-id "$OS_REGION" \
    --bootstrap-admin-url "$KS_URL" --bootstrap-public-url "$KS_URL" --bootstrap-internal-url "$KS_URL"
  save_template "$KDB" "$KTEMPLATE"
}
bootstrap_neutron() {
  if [ -f "$TEMPLATES/neutron.db" ]; then cp "$TEMPLATES/neutron.db" "$NDB"; log "neutron database from template"
  else
    step "neutron schema from models (sqlite)" quiet python3 "$ETC/neutron/create_schema.py" "$ETC/neutron/neutron.conf"
    step "neutron-db-manage stamp heads" quiet neutron-db-manage "${NC[@]}" stamp heads
    save_template "$NDB" "$TEMPLATES/neutron.db"
  fi
  sqlite3 "$NDB" ".backup '$NDB.pristine'"
}
bootstrap_nova() {
  local f
  if [ -f "$TEMPLATES/nova_api.db" ] && [ -f "$TEMPLATES/nova_cell0.db" ]; then
    cp "$TEMPLATES/nova_cell0.db" "$STATE_DIR/nova/nova_cell0.db"
    cp "$TEMPLATES/nova_api.db" "$STATE_DIR/nova/nova_api.db.tmp"
    # cell0's mapping names its database by path: this state dir's
    sqlite3 "$STATE_DIR/nova/nova_api.db.tmp" "UPDATE cell_mappings SET database_connection = 'sqlite:///$STATE_DIR/nova/nova_cell0.db' WHERE name = 'cell0';"
    mv "$STATE_DIR/nova/nova_api.db.tmp" "$STATE_DIR/nova/nova_api.db"
    log "nova databases from template"
  else
    export PYTHONPATH="$NOVA_ROOT/usr/lib/python3/dist-packages"
    step "nova-manage api_db sync" quiet "${NVM[@]}" api_db sync
    step "nova-manage cell_v2 map_cell0" quiet "${NVM[@]}" cell_v2 map_cell0 --database_connection "sqlite:///$STATE_DIR/nova/nova_cell0.db"
    step "nova-manage db sync" quiet "${NVM[@]}" db sync
    unset PYTHONPATH
    save_template "$STATE_DIR/nova/nova_cell0.db" "$TEMPLATES/nova_cell0.db"
    save_template "$STATE_DIR/nova/nova_api.db" "$TEMPLATES/nova_api.db"
  fi
  for f in nova_api nova_cell0; do sqlite3 "$STATE_DIR/nova/$f.db" ".backup '$STATE_DIR/nova/$f.db.pristine'"; done
}
NVM=(python3 "$NOVA_ROOT/usr/bin/nova-manage" --config-file "$ETC/nova/nova.conf")
t0=$(ms); JOBS=()
# each under a lock of its template: regions starting at once make a template once, the others copy it
[ -f "$KDB" ] || { ( flock 8; bootstrap_keystone ) 8>"$KTEMPLATE.lock" & JOBS+=($!); }
if [ "$WITH_NEUTRON" = 1 ] && [ "$DB_BACKEND" = sqlite ] && [ ! -f "$NDB" ]; then
  ( flock 8; bootstrap_neutron ) 8>"$TEMPLATES/neutron.lock" & JOBS+=($!)
fi
if [ "$WITH_NOVA" = 1 ] && [ ! -f "$STATE_DIR/nova/nova_api.db" ]; then
  ( flock 8; bootstrap_nova ) 8>"$TEMPLATES/nova.lock" & JOBS+=($!)
fi
for job in "${JOBS[@]}"; do wait "$job" || { echo "bootstrap failed (see $LOG/bootstrap.log)" >&2; exit 1; }; done
[ ${#JOBS[@]} = 0 ] || log "bootstrap: $(( $(ms) - t0 )) ms"

if [ "$WITH_NEUTRON" = 1 ] && [ "$DB_BACKEND" = mariadb ]; then
  if [ ! -d "$MY/data/mysql" ]; then
    mkdir -p "$MY/data"
    step "mariadb-install-db" quiet mariadb-install-db --no-defaults --datadir="$MY/data" --user=root --auth-root-authentication-method=normal --skip-test-db
  fi
  nohup mariadbd --no-defaults --datadir="$MY/data" --socket="$MY/mysqld.sock" --pid-file="$MY/mysqld.pid" \
    --bind-address=127.0.0.1 --port="$MARIADB_PORT" --user=root --innodb-buffer-pool-size=64M \
    --skip-log-bin --log-error="$LOG/mariadb.err" >/dev/null 2>&1 &
  echo "mariadb $!" >> "$PIDFILE"; MPID=$!
  until mariadb-admin --no-defaults --socket="$MY/mysqld.sock" ping >/dev/null 2>&1; do kill -0 $MPID || exit 1; sleep 0.1; done
  if [ ! -f "$STATE_DIR/neutron/.mariadb-ready" ]; then
    mariadb --no-defaults --socket="$MY/mysqld.sock" -uroot -e "DROP DATABASE IF EXISTS neutron; CREATE DATABASE neutron;
      CREATE USER IF NOT EXISTS 'neutron'@'127.0.0.1' IDENTIFIED BY 'neutron-db'; GRANT ALL ON neutron.* TO 'neutron'@'127.0.0.1';"
    step "neutron-db-manage upgrade heads (mariadb)" quiet neutron-db-manage "${NC[@]}" upgrade heads
    touch "$STATE_DIR/neutron/.mariadb-ready"
  fi
fi

# ---------------- Keystone, Neutron API and nova-api ----------------
# SIDE_BY_SIDE=1 (default): Neutron and nova-api load while Keystone does (they ask Keystone nothing until
# their first request): one region starts in ~8 s instead of ~15 s on two cores. Starting several regions
# at once is bound by the CPU either way, and one service after another is quicker then: SIDE_BY_SIDE=0.
SIDE_BY_SIDE="${SIDE_BY_SIDE:-1}"
start_neutron() {
  start_uwsgi neutron "$NEUTRON_PORT" neutron-api "$LOG/neutron-uwsgi.log" \
    --env "OS_NEUTRON_CONFIG_DIR=$ETC/neutron" --env "OS_NEUTRON_CONFIG_FILES=neutron.conf;ml2_conf.ini"
}
start_nova() {
  # api-paste.ini must come first: nova loads the paste app from the first file in OS_NOVA_CONFIG_FILES
  start_uwsgi nova "$NOVA_PORT" "$NOVA_ROOT/usr/bin/nova-api-wsgi" "$LOG/nova-uwsgi.log" \
    --pythonpath "$NOVA_ROOT/usr/lib/python3/dist-packages" \
    --env "OS_NOVA_CONFIG_DIR=$ETC/nova" --env "OS_NOVA_CONFIG_FILES=api-paste.ini;nova.conf"
}
t0=$(ms)
start_uwsgi keystone "$KS_PORT" keystone-wsgi-public "$LOG/keystone-uwsgi.log" --env "OS_KEYSTONE_CONFIG_FILES=$ETC/keystone/keystone.conf"
if [ "$SIDE_BY_SIDE" = 1 ]; then
  [ "$WITH_NEUTRON" != 1 ] || start_neutron
  [ "$WITH_NOVA" != 1 ] || start_nova
fi
wait_http "$KS_URL" "$PID_keystone" 60
log "keystone answering on $KS_URL after $(( $(ms) - t0 )) ms (pid $PID_keystone)"

# Idempotent catalog registration (each item is created only if missing); re-snapshot the pristine DB if anything changed
t1=$(ms); CHANGED=0
TOKEN=$(admin_token); H=(-H "X-Auth-Token: $TOKEN" -H 'Content-Type: application/json')
kget() { curl -sS --max-time 30 "${H[@]}" "$KS_URL/$1"; }
kpost() { curl -sS --max-time 30 -f "${H[@]}" -d "$2" "$KS_URL/$1" >/dev/null; CHANGED=1; }
ensure_service_user() { # name password
  local uid sp ar
  sp=$(kget 'projects?name=service' | jq -r '.projects[0].id // empty')
  [ -n "$sp" ] || { kpost projects '{"project":{"name":"service","domain_id":"default","description":"service project"}}'; sp=$(kget 'projects?name=service' | jq -r '.projects[0].id'); }
  uid=$(kget "users?name=$1" | jq -r '.users[0].id // empty')
  [ -n "$uid" ] && return 0
  kpost users '{"user":{"name":"'"$1"'","domain_id":"default","password":"'"$2"'","default_project_id":"'"$sp"'"}}'
  uid=$(kget "users?name=$1" | jq -r '.users[0].id'); ar=$(kget 'roles?name=admin' | jq -r '.roles[0].id')
  curl -sS -f --max-time 30 "${H[@]}" -X PUT "$KS_URL/projects/$sp/users/$uid/roles/$ar"
}
ensure_service() { # name type url
  local sv; sv=$(kget "services?type=$2" | jq -r '.services[0].id // empty')
  [ -n "$sv" ] && return 0
  kpost services '{"service":{"name":"'"$1"'","type":"'"$2"'"}}'; sv=$(kget "services?type=$2" | jq -r '.services[0].id')
  for i in public internal admin; do
    kpost endpoints '{"endpoint":{"service_id":"'"$sv"'","interface":"'$i'","url":"'"$3"'","region_id":"'"$OS_REGION"'"}}'
  done
}
# Ports can change between runs (tests pick free ones): services find each other through the catalog
# (keystonemiddleware validates tokens at the catalog's identity URL), so keep its URLs current.
ensure_endpoint_urls() { # type url
  local sv; sv=$(kget "services?type=$1" | jq -r '.services[0].id // empty')
  [ -n "$sv" ] || return 0
  for ep in $(kget "endpoints?service_id=$sv" | jq -r --arg u "$2" '.endpoints[] | select(.url != $u) | .id'); do
    curl -sS -f --max-time 30 "${H[@]}" -X PATCH -d '{"endpoint":{"url":"'"$2"'"}}' "$KS_URL/endpoints/$ep" >/dev/null; CHANGED=1
  done
}
# Keystone 2023.2 and later bootstrap a project "manager" role; infrafed's admin maps to member + manager by
# default (never to Keystone's admin). This Keystone (Debian 12: 22, Zed) predates it: create it likewise.
ensure_role() { # name
  [ -n "$(kget "roles?name=$1" | jq -r '.roles[0].id // empty')" ] && return 0
  kpost roles '{"role":{"name":"'"$1"'"}}'
}
ensure_role manager
ensure_endpoint_urls identity "$KS_URL"
if [ "$WITH_NEUTRON" = 1 ]; then ensure_service_user neutron "$NEUTRON_PASSWORD"; ensure_service neutron network "$NEUTRON_URL"; ensure_endpoint_urls network "$NEUTRON_URL"; fi
if [ "$WITH_NOVA" = 1 ]; then ensure_service_user nova "$NOVA_PASSWORD"; ensure_service nova compute "$NOVA_URL"; ensure_endpoint_urls compute "$NOVA_URL"; fi
if [ "$CHANGED" = 1 ] || [ ! -f "$KDB.pristine" ]; then sqlite3 "$KDB" ".backup '$KDB.pristine'"; fi
log "keystone catalog registration (changed=$CHANGED): $(( $(ms) - t1 )) ms"


if [ "$WITH_NEUTRON" = 1 ]; then
  [ "$SIDE_BY_SIDE" = 1 ] || { t0=$(ms); start_neutron; }
  wait_http "$NEUTRON_URL/" "$PID_neutron" 90
  log "neutron answering on $NEUTRON_URL after $(( $(ms) - t0 )) ms (pid $PID_neutron)"
fi
if [ "$WITH_NOVA" = 1 ]; then
  [ "$SIDE_BY_SIDE" = 1 ] || { t0=$(ms); start_nova; }
  wait_http "http://127.0.0.1:$NOVA_PORT/" "$PID_nova" 90
  log "nova-api answering on $NOVA_URL after $(( $(ms) - t0 )) ms (pid $PID_nova)"
fi

while read -r name pid; do log "RSS $name (pid $pid + children): $(( $(rss_tree "$pid") / 1024 )) MiB"; done < "$PIDFILE"
log "pids in $PIDFILE"

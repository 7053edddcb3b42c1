# Sourced by install.sh / start.sh / stop.sh. One local OpenStack "region" = one STATE_DIR + one set of ports.
# Everything mutable (configs, DBs, keys, logs, pids) lives under $STATE_DIR; nothing is written to /etc.
# Adapted from the team's spike (shared/reference/openstack-local), parametrised per region.
STATE_DIR="${STATE_DIR:-/tmp/infrafed-openstack/RegionOne}"
# Keystone region id registered at bootstrap (the catalog's region)
OS_REGION="${OS_REGION:-RegionOne}"
# Debian's python3 + OpenStack console scripts, not a pyenv/venv python that may be first on PATH.
export PATH="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

KS_PORT="${KS_PORT:-5000}"
NEUTRON_PORT="${NEUTRON_PORT:-9696}"
KS_URL="http://127.0.0.1:${KS_PORT}/v3"
NEUTRON_URL="http://127.0.0.1:${NEUTRON_PORT}"
ADMIN_PASSWORD="${ADMIN_PASSWORD:-admin-secret}"
NEUTRON_PASSWORD="${NEUTRON_PASSWORD:-neutron-secret}"
# sqlite (default: schema built from Neutron's ORM models) or mariadb (real alembic migrations, private mariadbd)
DB_BACKEND="${DB_BACKEND:-sqlite}"
# WITH_NEUTRON=1: also run the Neutron API (networks, subnets, routers, security groups, quotas)
WITH_NEUTRON="${WITH_NEUTRON:-0}"
# WITH_NOVA=1: also run nova-api (quota-sets/limits only) from *extracted* Debian debs (installing python3-nova
# would pull systemd, udev, open-iscsi and ceph libraries onto the machine)
WITH_NOVA="${WITH_NOVA:-0}"
NOVA_PORT="${NOVA_PORT:-8774}"
NOVA_URL="http://127.0.0.1:${NOVA_PORT}/v2.1"
NOVA_PASSWORD="${NOVA_PASSWORD:-nova-secret}"
# extracted (not installed) nova debs, shared by every region on the machine
NOVA_ROOT="${NOVA_ROOT:-/var/lib/infrafed/nova-root}"
NOVA_DEBS=(python3-nova nova-common python3-microversion-parse python3-oslo.limit python3-castellan python3-os-brick
  os-brick-common python3-cursive python3-barbicanclient python3-os-win python3-retrying python3-websockify
  python3-feedparser python3-sgmllib3k)
MARIADB_PORT="${MARIADB_PORT:-3307}"

ETC="$STATE_DIR/etc"
LOG="$STATE_DIR/log"
PIDFILE="$STATE_DIR/pids"

ms() { date +%s%3N; }
log() { echo "[$(date +%H:%M:%S)] $*"; }

# RSS (KiB) of a pid plus all its descendants
rss_tree() {
  local total=0 p
  for p in $1 $(pgrep -P "$1" 2>/dev/null); do
    total=$(( total + $(awk '/^VmRSS/{print $2}' /proc/$p/status 2>/dev/null || echo 0) ))
  done
  echo "$total"
}

# admin token (project-scoped to "admin"), printed on stdout
admin_token() {
  curl -sS --max-time 30 -D - -o /dev/null -H 'Content-Type: application/json' \
    -d '{"auth":{"identity":{"methods":["password"],"password":{"user":{"name":"admin","domain":{"id":"default"},"password":"'"$ADMIN_PASSWORD"'"}}},"scope":{"project":{"name":"admin","domain":{"id":"default"}}}}}' \
    "$KS_URL/auth/tokens" | awk -F': ' 'tolower($1)=="x-subject-token"{print $2}' | tr -d '\r'
}

write_configs() {
  mkdir -p "$ETC/keystone" "$ETC/neutron" "$LOG" "$STATE_DIR/keystone" "$STATE_DIR/neutron/lock" "$STATE_DIR/neutron/state"
  cat > "$ETC/keystone/keystone.conf" <<EOF
[DEFAULT]
log_dir = $LOG
log_file = keystone.log
debug = false
[database]
connection = sqlite:///$STATE_DIR/keystone/keystone.db
[token]
provider = fernet
expiration = 86400
[fernet_tokens]
key_repository = $STATE_DIR/keystone/fernet-keys
[fernet_receipts]
key_repository = $STATE_DIR/keystone/fernet-keys
[credential]
key_repository = $STATE_DIR/keystone/credential-keys
[cache]
# in-process cache: ~25x faster authenticated requests (single uwsgi process => no stale-cache issue)
enabled = true
backend = dogpile.cache.memory
[identity]
# bcrypt cost 4 instead of 12: password auth ~10x cheaper (test rig only)
password_hash_rounds = 4
EOF

  local conn="sqlite:///$STATE_DIR/neutron/neutron.db"
  [ "$DB_BACKEND" = mariadb ] && conn="mysql+pymysql://neutron:neutron-db@127.0.0.1:${MARIADB_PORT}/neutron"
  cat > "$ETC/neutron/neutron.conf" <<EOF
[DEFAULT]
bind_host = 127.0.0.1
bind_port = $NEUTRON_PORT
core_plugin = ml2
service_plugins = router
auth_strategy = keystone
# oslo.messaging in-memory driver: no rabbitmq; nothing listens for the casts (no agents)
transport_url = fake:/
api_workers = 0
rpc_workers = 0
rpc_state_report_workers = 0
api_paste_config = $ETC/neutron/api-paste.ini
state_path = $STATE_DIR/neutron/state
log_dir = $LOG
log_file = neutron.log
debug = false
allow_overlapping_ips = true
notify_nova_on_port_status_changes = false
notify_nova_on_port_data_changes = false
dhcp_agent_notification = false
[database]
connection = $conn
[keystone_authtoken]
www_authenticate_uri = http://127.0.0.1:$KS_PORT
auth_url = http://127.0.0.1:$KS_PORT
auth_type = password
project_domain_name = Default
user_domain_name = Default
project_name = service
username = neutron
password = $NEUTRON_PASSWORD
region_name = $OS_REGION
[oslo_concurrency]
lock_path = $STATE_DIR/neutron/lock
[quotas]
quota_driver = neutron.db.quota.driver_nolock.DbQuotaNoLockDriver
EOF
  cat > "$ETC/neutron/ml2_conf.ini" <<EOF
[ml2]
type_drivers = flat,vlan,vxlan
tenant_network_types = vxlan
mechanism_drivers = openvswitch
extension_drivers = port_security
[ml2_type_flat]
flat_networks = *
[ml2_type_vlan]
network_vlan_ranges = physnet1:100:199
[ml2_type_vxlan]
vni_ranges = 1:1000
[securitygroup]
enable_security_group = true
EOF
  cp "$(dpkg -L neutron-common | grep '/api-paste.ini$' | head -1)" "$ETC/neutron/api-paste.ini"
  cat > "$ETC/neutron/create_schema.py" <<'EOF'
# Neutron's alembic migrations cannot run on SQLite (ALTER of constraints), so build the schema from the
# ORM models (what Neutron's own unit tests do); the caller then runs `neutron-db-manage stamp heads`.
import sys, configparser
import sqlalchemy as sa
from neutron.db.migration.models import head  # imports every model incl. ml2 + l3
cp = configparser.ConfigParser(interpolation=None); cp.read(sys.argv[1])
head.get_metadata().create_all(sa.create_engine(cp['database']['connection']))
print("neutron tables:", len(head.get_metadata().tables))
EOF
  [ "$WITH_NOVA" = 1 ] || return 0
  mkdir -p "$ETC/nova" "$STATE_DIR/nova/lock"
  cat > "$ETC/nova/nova.conf" <<EOF
[DEFAULT]
transport_url = fake:/
log_dir = $LOG
log_file = nova.log
state_path = $STATE_DIR/nova
[api]
auth_strategy = keystone
[api_database]
connection = sqlite:///$STATE_DIR/nova/nova_api.db
[database]
connection = sqlite:///$STATE_DIR/nova/nova_cell0.db
[keystone_authtoken]
www_authenticate_uri = http://127.0.0.1:$KS_PORT
auth_url = http://127.0.0.1:$KS_PORT
auth_type = password
project_domain_name = Default
user_domain_name = Default
project_name = service
username = nova
password = $NOVA_PASSWORD
region_name = $OS_REGION
[oslo_concurrency]
lock_path = $STATE_DIR/nova/lock
[quota]
driver = nova.quota.DbQuotaDriver
[wsgi]
api_paste_config = $ETC/nova/api-paste.ini
EOF
  cp "$NOVA_ROOT/usr/share/nova-common/api-paste.ini" "$ETC/nova/api-paste.ini"
}

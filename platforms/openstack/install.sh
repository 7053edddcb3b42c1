#!/bin/bash
# Installs Debian bookworm's Keystone + Neutron (+ uwsgi, optional MariaDB) and extracts nova-api's debs,
# without starting any service. Re-runnable (~1 s when everything is there). Needs root and Debian apt.
set -euo pipefail
cd "$(dirname "$0")"
. ./common.sh

export DEBIAN_FRONTEND=noninteractive
# keystone/neutron debconf questions all default to "don't configure"; make that explicit.
debconf-set-selections <<'EOF'
keystone keystone/configure_db boolean false
keystone keystone/create-admin-tenant boolean false
keystone keystone/register-endpoint boolean false
neutron-common neutron/configure_db boolean false
neutron-common neutron/configure_rabbit boolean false
neutron-common neutron/configure_ksat boolean false
neutron-common neutron/configure_nova boolean false
EOF

# No systemd here: forbid maintainer scripts from starting daemons (invoke-rc.d honours exit 101).
created_policy=0
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d; created_policy=1
fi
trap '[ $created_policy = 1 ] && rm -f /usr/sbin/policy-rc.d' EXIT

# a fresh machine's package lists may be empty: refresh them once when keystone is not even known
apt-cache policy keystone 2>/dev/null | grep -q 'Candidate: [0-9]' || apt-get update -qq
pkgs=(keystone neutron-server uwsgi-core uwsgi-plugin-python3 python3-pymysql curl jq sqlite3)
[ "$DB_BACKEND" = mariadb ] && pkgs+=(mariadb-server)
missing=()
for p in "${pkgs[@]}"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  t0=$(ms)
  apt-get install -y --no-install-recommends "${missing[@]}"
  log "apt-get install ${missing[*]} took $(( $(ms) - t0 )) ms"
fi
dpkg-query -W -f='${Package} ${Version}\n' keystone python3-keystone neutron-server python3-neutron \
  python3-keystonemiddleware python3-oslo.messaging python3-sqlalchemy uwsgi-plugin-python3 2>/dev/null || true

if [ ! -x "$NOVA_ROOT/usr/bin/nova-api-wsgi" ]; then
  t0=$(ms); debs=$(mktemp -d); mkdir -p "$NOVA_ROOT"
  (cd "$debs" && apt-get download "${NOVA_DEBS[@]}")
  for d in "$debs"/*.deb; do dpkg-deb -x "$d" "$NOVA_ROOT"; done; rm -rf "$debs"
  log "nova debs downloaded + extracted (not installed) into $NOVA_ROOT: $(( $(ms) - t0 )) ms"
fi
# Debian's installed packages come with their bytecode compiled; the extracted nova does not, and with
# PYTHONDONTWRITEBYTECODE set (or a root that cannot write) every nova-api start compiled it again: about
# 1.5 CPU-seconds of each region's start here. Once, with Debian's python3 (the one uwsgi embeds).
if [ ! -f "$NOVA_ROOT/.bytecode-compiled" ]; then
  t0=$(ms)
  /usr/bin/python3 -m compileall -q -j 0 "$NOVA_ROOT/usr/lib/python3/dist-packages" >/dev/null
  touch "$NOVA_ROOT/.bytecode-compiled"
  log "nova bytecode compiled: $(( $(ms) - t0 )) ms"
fi


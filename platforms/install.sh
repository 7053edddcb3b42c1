#!/bin/bash
# System packages the local system and the tests need, from Debian: nats-server, then Keystone/Neutron/nova
# (platforms/openstack/install.sh). Re-runnable (~1 s when all is there). Needs root.
set -euo pipefail
cd "$(dirname "$0")"
export DEBIAN_FRONTEND=noninteractive PATH="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
if ! command -v nats-server >/dev/null; then
  apt-cache policy nats-server 2>/dev/null | grep -q 'Candidate: [0-9]' || apt-get update -qq
  apt-get install -y --no-install-recommends nats-server
fi
bash openstack/install.sh

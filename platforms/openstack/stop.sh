#!/bin/bash
# Stops only the processes start.sh recorded in $STATE_DIR/pids (uwsgi masters take their workers with them:
# --die-on-term + --no-orphans). SIGTERM to all first, then wait (10 s each), then SIGKILL the recorded pid + its children.
set -uo pipefail
cd "$(dirname "$0")"
. ./common.sh

[ -s "$PIDFILE" ] || { log "nothing recorded in $PIDFILE"; exit 0; }
declare -A KIDS
while read -r name pid; do
  if kill -0 "$pid" 2>/dev/null; then KIDS[$pid]=$(pgrep -P "$pid" 2>/dev/null | tr '\n' ' '); kill -TERM "$pid"; fi
done < <(tac "$PIDFILE")
while read -r name pid; do
  [ -n "${KIDS[$pid]+x}" ] || { log "$name ($pid) was not running"; continue; }
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" ${KIDS[$pid]} 2>/dev/null; log "$name ($pid) SIGKILLed"
  else log "$name ($pid) stopped"; fi
done < <(tac "$PIDFILE")
: > "$PIDFILE"

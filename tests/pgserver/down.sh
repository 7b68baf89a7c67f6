#!/usr/bin/env bash
# Stop the test PostgreSQL server of one state dir
# ($PGENV_DIR, default <repo>/.pgenv). Fast shutdown; idempotent.
#   down.sh           stop the server, keep the cluster
#   down.sh --purge   stop it and remove the whole state dir
set -euo pipefail

# shellcheck source=lib.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

purge=0
case "${1:-}" in
    "") ;;
    --purge) purge=1 ;;
    -h | --help)
        echo "usage: $0 [--purge]" >&2
        exit 0
        ;;
    *) die "usage: $0 [--purge]" ;;
esac

if [[ ! -d "$PGENV_DIR" ]]; then
    log "no state dir $PGENV_DIR; nothing to do"
    exit 0
fi
pgenv_init_paths
pgenv_lock
load_state_env

pg_stop

if ((purge)); then
    log "removing $ST"
    rm -rf -- "$ST"
fi
log "stopped"

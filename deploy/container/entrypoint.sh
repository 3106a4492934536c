#!/bin/sh
# Container entrypoint for cohortd.
# A mounted /etc/cohort/cohortd.yaml replaces the image's baked configuration
# (/usr/share/cohort/container.yaml); COHORT_* environment variables override either, key by key.
# Arguments are passed on to cohortd (e.g. `--check`).
set -eu
config=/usr/share/cohort/container.yaml
[ -f /etc/cohort/cohortd.yaml ] && config=/etc/cohort/cohortd.yaml
exec /usr/bin/cohortd --config "$config" "$@"

#!/bin/bash
# HEALTHCHECK for the cohortd image: GET /livez on the node's own admin port, with nothing but bash.
# Exit 0 when it answers 200 (every liveness check passes), 1 otherwise.
# The port comes from COHORT_ADMIN_ADDRESS when set, else 7960 (the image's default).
address=${COHORT_ADMIN_ADDRESS:-0.0.0.0:7960}
port=${address##*:}
host=${address%:*}
case "$host" in ""|0.0.0.0|"[::]") host=127.0.0.1 ;; esac
host=${host#[}; host=${host%]}
exec 3<>"/dev/tcp/$host/$port" || exit 1
printf 'GET /livez HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n' >&3
read -r -t 5 _ status _ <&3 || exit 1
[ "$status" = 200 ]

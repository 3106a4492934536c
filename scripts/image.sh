#!/usr/bin/env bash
# Builds the cohortd container image (deploy/container/Containerfile) with podman, offline.
#
#   scripts/image.sh [--binaries DIR] [--tag NAME] [--base NAME]
#
#   --binaries DIR  take cohortd (and cohort, when there) from DIR instead of building them
#   --tag NAME      the image name (default localhost/cohort:latest)
#   --base NAME     the base image (default docker.io/library/debian:bookworm-slim, the Containerfile's)
#   --no-strip      keep the binaries' symbol tables (by default they are stripped, as Debian packages
#                   are: about half the size; symbolicate crash addresses against the unstripped build)
#
# Without --binaries it builds static release binaries (`swift build -c release --static-swift-stdlib`,
# scratch path $COHORT_BUILD_SCRATCH, default .build-static): cohortd must build; cohort is included
# when it builds and skipped with a warning when it does not.
# When the base image is missing (there is no registry on an offline host) it is made from a
# debootstrapped Debian 12 minbase tree and imported under the base's name. Idempotent: a second
# run reuses the base image and podman's layer cache. Prints the image size at the end.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
binaries="" with_cli=yes strip=yes tag=localhost/cohort:latest base=docker.io/library/debian:bookworm-slim
while [ $# -gt 0 ]; do
  case "$1" in
    --binaries) binaries=$2; shift 2 ;;
    --tag) tag=$2; shift 2 ;;
    --base) base=$2; shift 2 ;;
    --no-strip) strip=no; shift ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) echo "image.sh: unknown argument $1" >&2; exit 64 ;;
  esac
done
# shellcheck source=lib/podman.sh
. "$repo/scripts/lib/podman.sh"
ensure_podman

if [ -z "$binaries" ]; then
  scratch=${COHORT_BUILD_SCRATCH:-$repo/.build-static}
  echo "== building static release binaries (scratch $scratch)"
  (cd "$repo" && swift build -c release --static-swift-stdlib --scratch-path "$scratch" --product cohortd 2>&1 | tail -n 3) \
    || { echo "image.sh: cohortd did not build" >&2; exit 1; }
  [ -x "$scratch/release/cohortd" ] || { echo "image.sh: cohortd did not build" >&2; exit 1; }
  if ! (cd "$repo" && swift build -c release --static-swift-stdlib --scratch-path "$scratch" --product cohort >"$scratch/cohort-build.log" 2>&1); then
    echo "image.sh: WARNING: the cohort CLI did not build statically (see $scratch/cohort-build.log); the image gets cohortd only" >&2
    with_cli=no
  fi
  binaries="$scratch/release"
fi
[ -x "$binaries/cohortd" ] || { echo "image.sh: no cohortd in $binaries" >&2; exit 1; }

if ! pm image exists "$base"; then
  root=${COHORT_BASE_ROOT:-/var/tmp/cohort-base-root}
  if [ ! -x "$root/usr/bin/bash" ]; then
    echo "== debootstrapping Debian bookworm (minbase) into $root"
    rm -rf "$root"
    debootstrap --variant=minbase bookworm "$root" >/dev/null
  fi
  # What the slim image also leaves out: package caches, lists, docs, man pages, locales.
  rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* "$root"/usr/share/doc/* \
    "$root"/usr/share/man/* "$root"/usr/share/info/* "$root"/usr/share/locale/*
  echo "== importing it as $base"
  tar -C "$root" -c . | pm import --change 'CMD ["bash"]' - "$base" >/dev/null
fi

context=$(mktemp -d /tmp/cohort-image-context.XXXXXX)
trap 'rm -rf "$context"' EXIT
mkdir "$context/bin"
install -m 0755 "$binaries/cohortd" "$context/bin/cohortd"
if [ "$with_cli" = yes ] && [ -x "$binaries/cohort" ]; then
  install -m 0755 "$binaries/cohort" "$context/bin/cohort"
fi
if [ "$strip" = yes ]; then strip "$context"/bin/*; fi
cp "$repo/deploy/container/entrypoint.sh" "$repo/deploy/container/healthcheck.sh" "$repo/deploy/container/container.yaml" "$context/"

echo "== podman build $tag (from $base; binaries: $(ls "$context/bin" | tr '\n' ' '))"
pm build --format docker --build-arg "BASE=$base" -t "$tag" -f "$repo/deploy/container/Containerfile" "$context" | tail -n 3
size=$(pm image inspect --format '{{.Size}}' "$tag")
base_size=$(pm image inspect --format '{{.Size}}' "$base")
printf '== image %s: %s bytes (%.1f MB; base %.1f MB, cohort layers %.1f MB)\n' "$tag" "$size" \
  "$(echo "$size / 1000000" | bc -l)" "$(echo "$base_size / 1000000" | bc -l)" "$(echo "($size - $base_size) / 1000000" | bc -l)"

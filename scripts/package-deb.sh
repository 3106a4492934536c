#!/usr/bin/env bash
# Builds the Debian package cohort_<version>_<arch>.deb with dpkg-deb.
#
#   scripts/package-deb.sh [--binaries DIR] [--out DIR]
#
#   --binaries DIR  take cohortd (and cohort, when there) from DIR instead of building them
#   --out DIR       where the .deb goes (default: dist/ in the repository)
#   --no-strip      keep the binaries' symbol tables (stripped by default, as dh_strip does)
#
# Without --binaries it builds static release binaries (scratch path $COHORT_BUILD_SCRATCH, default
# .build-static): cohortd must build; the cohort CLI is packaged when it builds and left out with a
# warning when it does not. The version is CohortVersion.current (Sources/CohortCore/Version.swift).
#
# Contents: /usr/bin/cohortd, /usr/bin/cohort, /lib/systemd/system/cohortd.service (deploy/systemd,
# ExecStart on /usr/bin), /usr/lib/sysusers.d/cohort.conf, /etc/cohort/cohortd.yaml (a conffile),
# /usr/share/doc/cohort/{README.md,deploy.md,configuration.md,operations.md}; maintainer scripts from
# deploy/debian (postinst: the user and daemon-reload; prerm: stop; postrm: purge drops the state).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
binaries="" out="$repo/dist" with_cli=yes strip=yes
while [ $# -gt 0 ]; do
  case "$1" in
    --binaries) binaries=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --no-strip) strip=no; shift ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) echo "package-deb.sh: unknown argument $1" >&2; exit 64 ;;
  esac
done

if [ -z "$binaries" ]; then
  scratch=${COHORT_BUILD_SCRATCH:-$repo/.build-static}
  echo "== building static release binaries (scratch $scratch)"
  (cd "$repo" && swift build -c release --static-swift-stdlib --scratch-path "$scratch" --product cohortd 2>&1 | tail -n 3)
  [ -x "$scratch/release/cohortd" ] || { echo "package-deb.sh: cohortd did not build" >&2; exit 1; }
  if ! (cd "$repo" && swift build -c release --static-swift-stdlib --scratch-path "$scratch" --product cohort >"$scratch/cohort-build.log" 2>&1); then
    echo "package-deb.sh: WARNING: the cohort CLI did not build statically (see $scratch/cohort-build.log); packaging cohortd only" >&2
    with_cli=no
  fi
  binaries="$scratch/release"
fi
[ -x "$binaries/cohortd" ] || { echo "package-deb.sh: no cohortd in $binaries" >&2; exit 1; }
[ -x "$binaries/cohort" ] || with_cli=no

version=$(sed -n 's/.*static let current = "\(.*\)".*/\1/p' "$repo/Sources/CohortCore/Version.swift")
[ -n "$version" ] || { echo "package-deb.sh: no version in Sources/CohortCore/Version.swift" >&2; exit 1; }
arch=$(dpkg --print-architecture)

stage=$(mktemp -d /tmp/cohort-deb.XXXXXX)
trap 'rm -rf "$stage"' EXIT
root="$stage/root"
install -D -m 0755 "$binaries/cohortd" "$root/usr/bin/cohortd"
[ "$with_cli" = yes ] && install -D -m 0755 "$binaries/cohort" "$root/usr/bin/cohort"
if [ "$strip" = yes ]; then strip "$root"/usr/bin/*; fi
# The shipped unit, with the binary where the package puts it.
install -d "$root/lib/systemd/system"
sed 's|^ExecStart=/usr/local/bin/cohortd |ExecStart=/usr/bin/cohortd |' "$repo/deploy/systemd/cohortd.service" \
  > "$root/lib/systemd/system/cohortd.service"
chmod 0644 "$root/lib/systemd/system/cohortd.service"
grep -q '^ExecStart=/usr/bin/cohortd ' "$root/lib/systemd/system/cohortd.service" \
  || { echo "package-deb.sh: could not point ExecStart at /usr/bin/cohortd" >&2; exit 1; }
install -D -m 0644 "$repo/deploy/systemd/cohort.sysusers.conf" "$root/usr/lib/sysusers.d/cohort.conf"
install -D -m 0644 "$repo/deploy/systemd/cohortd.yaml" "$root/etc/cohort/cohortd.yaml"
install -d "$root/usr/share/doc/cohort"
install -m 0644 "$repo/README.md" "$repo/docs/configuration.md" "$repo/docs/operations.md" "$root/usr/share/doc/cohort/"
[ -f "$repo/docs/deploy.md" ] && install -m 0644 "$repo/docs/deploy.md" "$root/usr/share/doc/cohort/"

install -d -m 0755 "$root/DEBIAN"
install -m 0755 "$repo/deploy/debian/postinst" "$repo/deploy/debian/prerm" "$repo/deploy/debian/postrm" "$root/DEBIAN/"
echo /etc/cohort/cohortd.yaml > "$root/DEBIAN/conffiles"
installed_size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
# The shared libraries the binaries link (glibc >= 2.36 for their packed relocations, libstdc++ and libgcc_s
# from GCC 12; zlib for the CLI), as dpkg-shlibdeps maps them to packages; its answer on Debian 12 when it is
# missing.
depends="libc6 (>= 2.36), libgcc-s1 (>= 3.3.1), libstdc++6 (>= 12), zlib1g (>= 1:1.1.4)"
if command -v dpkg-shlibdeps >/dev/null; then
  mkdir -p "$stage/src/debian"
  printf 'Source: cohort\n\nPackage: cohort\nArchitecture: any\n' > "$stage/src/debian/control"
  args=()
  for b in "$root"/usr/bin/*; do args+=("-e$b"); done
  depends=$(cd "$stage/src" && dpkg-shlibdeps -O "${args[@]}" 2>/dev/null | sed -n 's/^shlibs:Depends=//p')
  [ -n "$depends" ] || { echo "package-deb.sh: dpkg-shlibdeps found no dependencies" >&2; exit 1; }
fi
cat > "$root/DEBIAN/control" <<CONTROL
Package: cohort
Version: $version
Architecture: $arch
Maintainer: Cohort maintainers <maintainers@cohort.invalid>
Installed-Size: $installed_size
Depends: $depends
Section: net
Priority: optional
Description: clustering runtime for Swift servers: the cohortd node and the cohort CLI
 Cohort joins Swift server processes into a cluster: SWIM gossip (wire-compatible with
 HashiCorp memberlist), a TCP mesh, a bounded Raft core with replicated key/value stores,
 locks and names, and process groups. This package holds the cohortd daemon (a systemd
 Type=notify unit with a watchdog, not enabled on install), the cohort CLI, the sysusers
 entry for the cohort user and an example configuration in /etc/cohort/cohortd.yaml.
CONTROL
[ "$with_cli" = yes ] || sed -i 's/: the cohortd node and the cohort CLI$/: the cohortd node/' "$root/DEBIAN/control"

mkdir -p "$out"
deb="$out/cohort_${version}_${arch}.deb"
dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >/dev/null
echo "== $deb ($(du -h "$deb" | cut -f1); binaries: $(ls "$root/usr/bin" | tr '\n' ' '))"
dpkg-deb --info "$deb" | sed -n '/Package:/,/Description:/p'
dpkg-deb --contents "$deb" | awk '{print "   " $1, $6}'

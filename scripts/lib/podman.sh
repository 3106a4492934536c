# Sourced by scripts/image.sh and scripts/containers-e2e.sh: podman as this kind of host needs it.
# - `default_ulimits = []`: the stock containers.conf asks for an nofile limit this kernel refuses;
# - runc with cgroupfs: crun refuses the hybrid cgroup layout, and there is no systemd to manage cgroups.
# The settings live in a containers.conf of our own (CONTAINERS_CONF), so /etc is left alone and
# podman-compose, which runs plain `podman`, picks them up too.
: "${COHORT_PODMAN_STATE:=/var/tmp/cohort-podman}"
mkdir -p "$COHORT_PODMAN_STATE"
if [ -z "${CONTAINERS_CONF:-}" ]; then
  export CONTAINERS_CONF="$COHORT_PODMAN_STATE/containers.conf"
  cat > "$CONTAINERS_CONF" <<'CONF'
[containers]
default_ulimits = []

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
CONF
fi
runc_path=$(command -v runc || echo /usr/sbin/runc)
pm() { podman --runtime "$runc_path" --cgroup-manager=cgroupfs "$@"; }

ensure_podman() {
  if ! command -v podman >/dev/null || ! command -v runc >/dev/null || ! command -v debootstrap >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq podman runc debootstrap >/dev/null
    runc_path=$(command -v runc)
  fi
}

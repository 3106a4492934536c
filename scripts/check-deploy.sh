#!/usr/bin/env bash
# Validates deploy/kubernetes and deploy/monitoring offline, and exits non-zero on any problem:
#
#   promtool check rules  deploy/monitoring/alerts.yaml
#   promtool test rules   deploy/monitoring/alerts.test.yaml (every alert fires and stays quiet somewhere)
#   kubernetes-validate   every manifest, and the kustomization as `kubectl kustomize` renders it, against
#                         the Kubernetes $KUBERNETES_VERSION schemas (strict: unknown fields are errors)
#   scripts/check_deploy.py
#     metrics     every metric, label and value the alerts and the Grafana dashboard use is one cohortd
#                 registers in Sources/; the dashboard JSON parses; runbook links name docs headings
#     manifests   selectors, references, named ports, COHORT_* variables, scrape annotations, grace period
#     cohortd     `cohortd --check` accepts the ConfigMap with each workload's environment (needs a built
#                 cohortd: $COHORTD, else .build/{debug,release}/cohortd; skipped, and said so, without one)
#
# Needs promtool (Debian: apt-get install prometheus), kubernetes-validate (pip install
# kubernetes-validate==1.37.0) and python3 with PyYAML (a dependency of kubernetes-validate). kubectl is
# optional: `kubectl apply --dry-run=client` needs a reachable API server even for a dry run, so this uses
# `kubectl kustomize` (offline) to render the kustomization and validates the result.
set -uo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
KUBERNETES_VERSION=${KUBERNETES_VERSION:-1.30.0}
failures=()

step() { printf '\n== %s\n' "$*"; }
fail() { failures+=("$1"); printf '  FAIL %s\n' "$1"; }

# The tools first: a missing one is a failure that says how to install it.
missing=()
command -v promtool >/dev/null || missing+=("promtool: apt-get install -y prometheus")
python3 -c 'import yaml' 2>/dev/null || missing+=("python3 with PyYAML: apt-get install -y python3-yaml, or pip install pyyaml")
python3 -m kubernetes_validate --version >/dev/null 2>&1 || missing+=("kubernetes-validate: python3 -m pip install kubernetes-validate==1.37.0")
if [[ ${#missing[@]} -gt 0 ]]; then
    step "tools"
    for tool in "${missing[@]}"; do fail "missing $tool"; done
fi

if command -v promtool >/dev/null; then
    step "promtool check rules deploy/monitoring/alerts.yaml"
    promtool check rules deploy/monitoring/alerts.yaml 2>&1 | sed 's/^/  /' || fail "promtool check rules"
    step "promtool test rules deploy/monitoring/alerts.test.yaml"
    promtool test rules deploy/monitoring/alerts.test.yaml 2>&1 | sed 's/^/  /' || fail "promtool test rules"
fi

if python3 -m kubernetes_validate --version >/dev/null 2>&1; then
    step "kubernetes-validate --strict -k $KUBERNETES_VERSION deploy/kubernetes/*.yaml"
    for manifest in deploy/kubernetes/*.yaml; do
        [[ $(basename "$manifest") == kustomization.yaml ]] && continue
        python3 -m kubernetes_validate --strict -k "$KUBERNETES_VERSION" "$manifest" 2>&1 | sed 's/^/  /' \
            || fail "kubernetes-validate $manifest"
    done
    if command -v kubectl >/dev/null; then
        step "kubectl kustomize deploy/kubernetes | kubernetes-validate"
        rendered=$(mktemp --suffix=.yaml)
        if kubectl kustomize deploy/kubernetes >"$rendered" 2>"$rendered.err"; then
            printf '  rendered %s objects\n' "$(grep -c '^kind:' "$rendered")"
            python3 -m kubernetes_validate --strict -k "$KUBERNETES_VERSION" "$rendered" 2>&1 | sed 's/^/  /' \
                || fail "kubernetes-validate of the rendered kustomization"
        else
            sed 's/^/  /' "$rendered.err"
            fail "kubectl kustomize deploy/kubernetes"
        fi
        rm -f "$rendered" "$rendered.err"
    else
        step "kubectl kustomize: kubectl not found, the kustomization is not rendered (each manifest is still validated)"
    fi
fi

if python3 -c 'import yaml' 2>/dev/null; then
    step "metrics of the alert rules and the dashboard against Sources/"
    python3 scripts/check_deploy.py metrics || fail "scripts/check_deploy.py metrics"
    step "manifests hang together"
    python3 scripts/check_deploy.py manifests || fail "scripts/check_deploy.py manifests"
    cohortd=${COHORTD:-}
    if [[ -z $cohortd ]]; then
        for candidate in .build/debug/cohortd .build/release/cohortd; do
            [[ -x $candidate ]] && { cohortd=$candidate; break; }
        done
    fi
    if [[ -n $cohortd ]]; then
        step "cohortd --check with the ConfigMap and each workload's environment ($cohortd)"
        python3 scripts/check_deploy.py cohortd "$cohortd" || fail "scripts/check_deploy.py cohortd"
    else
        step "cohortd --check: skipped, no cohortd binary (set COHORTD or swift build --product cohortd)"
    fi
fi

echo
if [[ ${#failures[@]} -gt 0 ]]; then
    echo "check-deploy: ${#failures[@]} problem(s):"
    printf '  %s\n' "${failures[@]}"
    exit 1
fi
echo "check-deploy: deploy/kubernetes and deploy/monitoring are valid"

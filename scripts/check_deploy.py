#!/usr/bin/env python3
"""The checks of scripts/check-deploy.sh that no ready-made tool does, offline.

  check_deploy.py metrics     every metric, label and label value that deploy/monitoring's alert rules and
                              Grafana dashboard query is one cohortd registers (read from Sources/); every
                              alert is tested firing and quiet in alerts.test.yaml; runbook links resolve
  check_deploy.py manifests   deploy/kubernetes hangs together: selectors match, references resolve, named
                              ports exist, every COHORT_* variable is a documented one, scrape annotations
                              name the admin port, the grace period covers preStop plus shutdown
  check_deploy.py cohortd BIN runs `BIN --check` on the ConfigMap's configuration with each workload's
                              environment, and checks that the example Secret's placeholder key is refused

Prints one line per thing checked; exits 1 on any problem, naming it.
"""
import base64
import json
import os
import re
import subprocess
import sys
import tempfile

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MONITORING = os.path.join(ROOT, "deploy", "monitoring")
KUBERNETES = os.path.join(ROOT, "deploy", "kubernetes")
DOC = os.path.join(ROOT, "docs", "deploy.md")

problems = []


def problem(text):
    problems.append(text)
    print(f"  FAIL {text}")


def ok(text, since=None):
    """Prints `text` as passed unless problems were found since `since` (a len(problems) taken before)."""
    if since is None or len(problems) == since:
        print(f"  ok   {text}")


# --- metrics ---------------------------------------------------------------------------------------------

# Labels the scrape adds (Prometheus' instance and job, Kubernetes service discovery's namespace, pod, ...)
# and histogram buckets' le: allowed on every series.
TARGET_LABELS = {"instance", "job", "namespace", "pod", "container", "node", "service", "endpoint"}
REGISTRATION = re.compile(
    r"\.(counter|gauge|durationHistogram|valueHistogram|histogram|summary)\(\s*\"([a-zA-Z_:][a-zA-Z0-9_:]*)\"(.*?)help:",
    re.S,
)
LABEL = re.compile(r"\(\s*\"([a-zA-Z_][a-zA-Z0-9_]*)\"\s*,")
HELPER = re.compile(r"func (\w+)\(_ name: String[^)]*\)[^{]*\{(.*?)\n\s*\}", re.S)


def source_metrics():
    """name -> set of label names, for every metric a Swift source registers (histograms with their series)."""
    metrics, literals = {}, set()
    for directory, _, files in os.walk(os.path.join(ROOT, "Sources")):
        for name in files:
            if not name.endswith(".swift"):
                continue
            text = open(os.path.join(directory, name), encoding="utf-8").read()
            literals.update(re.findall(r"\"([A-Za-z0-9_.+-]+)\"", text))
            literals.update(re.findall(r"\bcase\s+([A-Za-z_][A-Za-z0-9_]*)", text))
            found = REGISTRATION.findall(text)
            # A local helper that registers the name it is given: `func perClass(_ name: String, ...) {
            # registry.counter(name, labels: [...]) }`, called as `perClass("internode_bytes_total", ...)`.
            for helper, body in HELPER.findall(text):
                registration = re.search(r"\.(counter|gauge|durationHistogram|valueHistogram|histogram|summary)\(name(.*)", body, re.S)
                if registration:
                    for metric in re.findall(rf"\b{helper}\(\s*\"([a-zA-Z_:][a-zA-Z0-9_:]*)\"", text):
                        found.append((registration.group(1), metric, registration.group(2)))
            for kind, metric, rest in found:
                labels = set(LABEL.findall(rest)) if "labels:" in rest else set()
                series = [metric]
                if "istogram" in kind or kind == "summary":
                    series = [metric + "_bucket", metric + "_sum", metric + "_count"]
                for one in series:
                    metrics.setdefault(one, set()).update(labels | ({"le"} if one.endswith("_bucket") else set()))
    return metrics, literals


TOKEN = re.compile(
    r"\s+|(?P<str>\"(?:\\.|[^\"\\])*\"|'(?:\\.|[^'\\])*')|(?P<range>\[[^\]]*\])|(?P<num>\d+(?:\.\d+)?(?:e[+-]?\d+)?)"
    r"|(?P<var>\$[A-Za-z_][A-Za-z0-9_]*)|(?P<id>[A-Za-z_:][A-Za-z0-9_:]*)|(?P<op>=~|!~|!=|==|>=|<=|[-+*/%^<>=(){},@])"
)
GROUPING = {"by", "without", "on", "ignoring", "group_left", "group_right"}
AGGREGATIONS = {"sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values", "bottomk", "topk", "quantile"}
KEYWORDS = {"and", "or", "unless", "bool", "offset", "inf", "nan", "start", "end"}


def tokens(expr):
    out, at = [], 0
    while at < len(expr):
        match = TOKEN.match(expr, at)
        if not match:
            raise ValueError(f"cannot read {expr[at:at + 20]!r}")
        at = match.end()
        for kind in ("str", "range", "num", "var", "id", "op"):
            if match.group(kind) is not None:
                out.append((kind, match.group(kind)))
    return out


def parse(expr):
    """(selectors, grouping labels) of a PromQL expression: selectors as (metric, [(label, op, value)])."""
    items, groups, i = tokens(expr), set(), 0
    selectors = []

    def matchers(start):
        found, j = [], start + 1
        while items[j] != ("op", "}"):
            if items[j] == ("op", ","):
                j += 1
                continue
            label, op, value = items[j][1], items[j + 1][1], items[j + 2][1]
            found.append((label, op, value[1:-1]))
            j += 3
        return found, j + 1

    while i < len(items):
        kind, text = items[i]
        following = items[i + 1] if i + 1 < len(items) else None
        if kind == "id" and text in GROUPING and following == ("op", "("):
            j = i + 2
            while items[j] != ("op", ")"):
                if items[j][0] == "id":
                    groups.add(items[j][1])
                j += 1
            i = j + 1
        elif kind == "id" and (following == ("op", "(") or text in AGGREGATIONS):
            i += 1  # a function or aggregation (`sum by (x) (...)` puts the grouping first)
        elif kind == "id" and text in KEYWORDS:
            i += 1
        elif kind == "id":
            found = []
            if following == ("op", "{"):
                found, i = matchers(i + 1)
            else:
                i += 1
            selectors.append((text, found))
        elif (kind, text) == ("op", "{"):
            found, i = matchers(i)
            selectors.append((None, found))
        else:
            i += 1
    return selectors, groups


def check_expression(where, expr, metrics, literals):
    try:
        selectors, groups = parse(expr)
    except (ValueError, IndexError) as error:
        problem(f"{where}: cannot parse {expr!r}: {error}")
        return set()
    used, labels_in_play = set(), set(TARGET_LABELS)
    for metric, found in selectors:
        if metric is None:
            problem(f"{where}: a selector without a metric name")
            continue
        if metric not in metrics:
            near = [m for m in metrics if m.split("_")[0] == metric.split("_")[0]]
            hint = f" (cohortd has: {', '.join(sorted(near)[:6])}...)" if near else ""
            problem(f"{where}: metric {metric} is not one cohortd exports{hint}")
            continue
        used.add(metric)
        labels_in_play |= metrics[metric]
        for label, op, value in found:
            if label not in metrics[metric] and label not in TARGET_LABELS:
                problem(f"{where}: {metric} has no label {label} (it has: {', '.join(sorted(metrics[metric])) or 'none'})")
            elif op in ("=", "!=") and label in metrics[metric] and not value.startswith("$") and value not in literals:
                problem(f"{where}: {metric}{{{label}=\"{value}\"}}: no such label value in the sources")
    for label in groups - labels_in_play:
        problem(f"{where}: groups by {label}, which none of its metrics has")
    return used


def doc_anchors():
    if not os.path.exists(DOC):
        return set()
    anchors = set()
    for line in open(DOC, encoding="utf-8"):
        if line.startswith("#"):
            title = line.lstrip("#").strip().lower()
            anchors.add(re.sub(r"[^a-z0-9 _-]", "", title).replace(" ", "-"))
    return anchors


def check_metrics():
    metrics, literals = source_metrics()
    print(f"metric names: {len(metrics)} series names registered in Sources/")
    if len(metrics) < 20:
        problem("found fewer than 20 metrics in Sources/: the registration pattern no longer matches")

    rules_path = os.path.join(MONITORING, "alerts.yaml")
    rules = yaml.safe_load(open(rules_path, encoding="utf-8"))
    alerts, used, mark = [], set(), len(problems)
    anchors = doc_anchors()
    for group in rules["groups"]:
        for rule in group["rules"]:
            name = rule.get("alert") or rule.get("record")
            alerts.append(name)
            used |= check_expression(f"alerts.yaml {name}", rule["expr"], metrics, literals)
            if "alert" in rule:
                if rule.get("labels", {}).get("severity") not in ("critical", "warning", "info"):
                    problem(f"alerts.yaml {name}: no severity label (critical, warning or info)")
                for key in ("summary", "description", "runbook"):
                    if key not in rule.get("annotations", {}):
                        problem(f"alerts.yaml {name}: no {key} annotation")
                runbook = rule.get("annotations", {}).get("runbook", "")
                anchor = runbook.partition("#")[2]
                if anchor and anchor not in anchors:
                    problem(f"alerts.yaml {name}: runbook {runbook} names no heading of docs/deploy.md")
    ok(f"alerts.yaml: {len(alerts)} alerts over {len(used)} metrics, all exported by cohortd: {', '.join(sorted(used))}", mark)

    tests = yaml.safe_load(open(os.path.join(MONITORING, "alerts.test.yaml"), encoding="utf-8"))
    firing, quiet, mark = set(), set(), len(problems)
    for test in tests["tests"]:
        for case in test.get("alert_rule_test", []):
            (firing if case.get("exp_alerts") else quiet).add(case["alertname"])
    for name in alerts:
        if name not in firing:
            problem(f"alerts.test.yaml: {name} is never expected to fire")
        if name not in quiet:
            problem(f"alerts.test.yaml: {name} is never expected to stay quiet")
    for name in (firing | quiet) - set(alerts):
        problem(f"alerts.test.yaml: tests {name}, which alerts.yaml does not define")
    ok(f"alerts.test.yaml: each of the {len(alerts)} alerts is expected to fire and to stay quiet", mark)

    path = os.path.join(MONITORING, "grafana-dashboard.json")
    try:
        dashboard = json.load(open(path, encoding="utf-8"))
    except ValueError as error:
        problem(f"grafana-dashboard.json does not parse: {error}")
        return
    queries, used, ids, mark = 0, set(), set(), len(problems)
    for panel in dashboard.get("panels", []):
        for inner in [panel] + panel.get("panels", []):
            if inner.get("id") in ids:
                problem(f"grafana-dashboard.json: panel id {inner.get('id')} is used twice")
            ids.add(inner.get("id"))
            if inner.get("type") == "row":
                continue
            if not inner.get("targets"):
                problem(f"grafana-dashboard.json: panel {inner.get('title')!r} has no query")
            if inner.get("datasource", {}).get("uid") != "${datasource}":
                problem(f"grafana-dashboard.json: panel {inner.get('title')!r} does not use the $datasource variable")
            for target in inner.get("targets", []):
                queries += 1
                used |= check_expression(f"dashboard {inner.get('title')!r}", target["expr"], metrics, literals)
    for variable in dashboard.get("templating", {}).get("list", []):
        if variable.get("type") != "query":
            continue
        query = variable["query"]["query"] if isinstance(variable["query"], dict) else variable["query"]
        match = re.fullmatch(r"label_values\((.*),\s*([A-Za-z_][A-Za-z0-9_]*)\)", query.strip())
        if not match:
            problem(f"dashboard variable {variable['name']}: not a label_values(selector, label) query")
            continue
        queries += 1
        used |= check_expression(f"dashboard variable {variable['name']}", match.group(1), metrics, literals)
    ok(f"grafana-dashboard.json: parses; {queries} queries in {len(ids)} panels over {len(used)} metrics, all exported by cohortd", mark)


# --- manifests -------------------------------------------------------------------------------------------

def documents(path):
    return [doc for doc in yaml.safe_load_all(open(path, encoding="utf-8")) if doc]


def manifests():
    found = {}
    for name in sorted(os.listdir(KUBERNETES)):
        if name.endswith(".yaml") and name != "kustomization.yaml":
            for doc in documents(os.path.join(KUBERNETES, name)):
                found[(doc["kind"], doc["metadata"]["name"])] = (name, doc)
    return found


def documented_variables():
    text = open(os.path.join(ROOT, "docs", "configuration.md"), encoding="utf-8").read()
    return set(re.findall(r"`(COHORT_[A-Z0-9_]+)", text))


def check_manifests():
    objects = manifests()
    kustomization = yaml.safe_load(open(os.path.join(KUBERNETES, "kustomization.yaml"), encoding="utf-8"))
    files, mark = {name for name, _ in objects.values()}, len(problems)
    for resource in kustomization.get("resources", []):
        if resource not in files:
            problem(f"kustomization.yaml lists {resource}, which is not a manifest here")
    for name in sorted(files - set(kustomization.get("resources", [])) - {"secret.example.yaml"}):
        problem(f"{name} is not a resource of kustomization.yaml")
    ok(f"kustomization.yaml: lists every manifest but secret.example.yaml ({', '.join(kustomization['resources'])})", mark)

    variables = documented_variables()
    workloads = {key: value for key, value in objects.items() if key[0] in ("StatefulSet", "Deployment")}
    for (kind, name), (path, doc) in workloads.items():
        where, mark = f"{path} {kind}/{name}", len(problems)
        spec, template = doc["spec"], doc["spec"]["template"]
        labels = template["metadata"].get("labels", {})
        selector = spec["selector"]["matchLabels"]
        if any(labels.get(key) != value for key, value in selector.items()):
            problem(f"{where}: selector {selector} does not match the pod labels {labels}")
        pod = template["spec"]
        volumes = {volume["name"]: volume for volume in pod.get("volumes", [])}
        for claim in spec.get("volumeClaimTemplates", []):
            volumes[claim["metadata"]["name"]] = claim
        grace = pod.get("terminationGracePeriodSeconds", 30)
        annotations = template["metadata"].get("annotations", {})
        for container in pod["containers"]:
            ports = {port["name"]: port for port in container.get("ports", [])}
            for mount in container.get("volumeMounts", []):
                if mount["name"] not in volumes:
                    problem(f"{where}: mounts volume {mount['name']}, which the pod does not define")
            for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
                get = container.get(probe, {}).get("httpGet")
                if not get:
                    problem(f"{where}: {probe} is missing or not an httpGet")
                    continue
                if get["port"] not in ports and not isinstance(get["port"], int):
                    problem(f"{where}: {probe} names port {get['port']}, which the container does not declare")
                expected = "/readyz" if probe == "readinessProbe" else "/livez"
                if get["path"] != expected:
                    problem(f"{where}: {probe} asks {get['path']}, expected {expected}")
            admin = ports.get("admin", {}).get("containerPort")
            if annotations.get("prometheus.io/scrape") != "true" or annotations.get("prometheus.io/port") != str(admin) \
                    or annotations.get("prometheus.io/path") != "/metrics":
                problem(f"{where}: the prometheus.io annotations do not point at the admin port {admin} /metrics")
            for entry in container.get("env", []):
                if entry["name"].startswith("COHORT_") and entry["name"] not in variables:
                    problem(f"{where}: {entry['name']} is not a variable docs/configuration.md documents (cohortd refuses unknown COHORT_* variables)")
                reference = entry.get("valueFrom", {})
                for source, kind_ in (("secretKeyRef", "Secret"), ("configMapKeyRef", "ConfigMap")):
                    if source in reference:
                        target = objects.get((kind_, reference[source]["name"]))
                        data = {**target[1].get("data", {}), **target[1].get("stringData", {})} if target else {}
                        if reference[source]["key"] not in data:
                            problem(f"{where}: {entry['name']} reads {kind_} {reference[source]['name']} key {reference[source]['key']}, which does not exist")
            sleep = container.get("lifecycle", {}).get("preStop", {}).get("exec", {}).get("command", [])
            pause = int(sleep[-1]) if sleep and sleep[-1].isdigit() else 0
            # cohortd ends within 10 s of SIGTERM (SPEC 12); the grace period counts from the preStop.
            if grace < pause + 10 + 5:
                problem(f"{where}: terminationGracePeriodSeconds {grace} does not cover preStop {pause} s + 10 s shutdown + 5 s slack")
            security = container.get("securityContext", {})
            if not security.get("readOnlyRootFilesystem") or security.get("allowPrivilegeEscalation") is not False:
                problem(f"{where}: the container should run with readOnlyRootFilesystem and without privilege escalation")
        if not pod.get("securityContext", {}).get("runAsNonRoot"):
            problem(f"{where}: the pod does not set runAsNonRoot")
        for volume in volumes.values():
            configmap = volume.get("configMap", {}).get("name")
            if configmap and ("ConfigMap", configmap) not in objects:
                problem(f"{where}: volume uses ConfigMap {configmap}, which is not defined")
        if kind == "StatefulSet":
            service = objects.get(("Service", spec["serviceName"]))
            if not service or service[1]["spec"].get("clusterIP") != "None" or not service[1]["spec"].get("publishNotReadyAddresses"):
                problem(f"{where}: serviceName {spec['serviceName']} is not a headless Service publishing unready pods")
            if spec.get("podManagementPolicy") != "Parallel":
                problem(f"{where}: servers must start in parallel (they become ready only together)")
        ok(f"{where}: selector, volumes, probes, ports, scrape annotations, {len(container.get('env', []))} env entries, grace {grace} s", mark)

    pod_labels = [doc["spec"]["template"]["metadata"].get("labels", {}) for _, doc in workloads.values()]
    for (kind, name), (path, doc) in objects.items():
        selector = None
        if kind == "Service":
            selector = doc["spec"].get("selector")
        elif kind == "PodDisruptionBudget":
            selector = doc["spec"]["selector"]["matchLabels"]
        if selector is None:
            continue
        if not any(all(labels.get(k) == v for k, v in selector.items()) for labels in pod_labels):
            problem(f"{path} {kind}/{name}: selector {selector} matches no workload's pods")
        else:
            ok(f"{path} {kind}/{name}: selector matches a workload")
    for (kind, name), (path, doc) in objects.items():
        if kind == "Service":
            for port in doc["spec"]["ports"]:
                target = port.get("targetPort")
                if isinstance(target, str) and not any(
                    target in {p["name"] for c in w[1]["spec"]["template"]["spec"]["containers"] for p in c.get("ports", [])}
                    for w in workloads.values()
                ):
                    problem(f"{path} Service/{name}: targetPort {target} is no container's port")


# --- cohortd --check --------------------------------------------------------------------------------------

def check_cohortd(binary):
    objects = manifests()
    config = objects[("ConfigMap", "cohort-config")][1]["data"]["cohortd.yaml"]
    key = base64.b64encode(os.urandom(32)).decode()
    samples = {"metadata.name": None, "status.podIP": "10.0.0.10", "spec.nodeName": "node-a"}
    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, "cohortd.yaml")
        open(path, "w", encoding="utf-8").write(config)
        for (kind, name), (file, doc) in sorted(objects.items()):
            if kind not in ("StatefulSet", "Deployment"):
                continue
            container = doc["spec"]["template"]["spec"]["containers"][0]
            environment = {"PATH": "/usr/bin:/bin", "HOME": directory}
            for entry in container.get("env", []):
                field = entry.get("valueFrom", {}).get("fieldRef", {}).get("fieldPath")
                if "value" in entry:
                    environment[entry["name"]] = entry["value"]
                elif field and field.startswith("metadata.labels["):
                    environment[entry["name"]] = "zone-a"
                elif field:
                    environment[entry["name"]] = samples.get(field) or f"{name}-0"
                elif "secretKeyRef" in entry.get("valueFrom", {}):
                    environment[entry["name"]] = key if entry["valueFrom"]["secretKeyRef"]["key"] == "gossip-key" else "token-" + os.urandom(8).hex()
            command = container["command"]
            arguments = [path if argument == "/etc/cohort/cohortd.yaml" else argument for argument in command[1:]]
            result = subprocess.run([binary, *arguments, "--check"], env=environment, capture_output=True, text=True, timeout=60)
            output = result.stdout + result.stderr
            if result.returncode != 0:
                problem(f"{file} {kind}/{name}: cohortd --check refuses the configuration:\n{output}")
                continue
            expected = {"COHORT_CLUSTER_RAFT_ROLE": "role: ", "COHORT_CLUSTER_NAME": "name: "}
            for variable, prefix in expected.items():
                if variable in environment and f"{prefix}{environment[variable]}" not in output:
                    problem(f"{file} {kind}/{name}: --check does not show {prefix}{environment[variable]}:\n{output}")
            warnings = [line for line in output.splitlines() if "# warning:" in line]
            if warnings:
                problem(f"{file} {kind}/{name}: cohortd warns: {'; '.join(warnings)}")
            ok(f"{file} {kind}/{name}: cohortd --check accepts the ConfigMap with the pod's environment, no warnings")
            # The example Secret's placeholder must not start a node.
            secret = objects[("Secret", "cohort-secret")][1]["stringData"]["gossip-key"]
            bad = dict(environment, COHORT_SECRET_KEY=secret)
            refused = subprocess.run([binary, *arguments, "--check"], env=bad, capture_output=True, text=True, timeout=60)
            if refused.returncode == 0:
                problem(f"{file} {kind}/{name}: cohortd accepts secret.example.yaml's placeholder key")
            else:
                ok(f"{file} {kind}/{name}: cohortd refuses secret.example.yaml's placeholder key")


def main():
    if len(sys.argv) < 2 or sys.argv[1] not in ("metrics", "manifests", "cohortd"):
        print(__doc__)
        return 2
    {"metrics": check_metrics, "manifests": check_manifests}.get(sys.argv[1], lambda: check_cohortd(sys.argv[2]))()
    if problems:
        print(f"check_deploy.py {sys.argv[1]}: {len(problems)} problem(s)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

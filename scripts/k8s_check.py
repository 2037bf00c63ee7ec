#!/usr/bin/env python3
"""k8s_check.py — validate spinfer's Kubernetes manifests the way a cluster would.

For each kustomize directory given: render it with kubectl kustomize, then
  * built-in kinds: kubernetes-validate, strict (unknown fields are errors);
  * SpinApp / SpinAppExecutor / ScaledObject: the CRDs' openAPIV3Schema (k8s/crds/);
  * the operator's webhook and the cross-object rules of ../shared/k8s/README.md,
    including agreement with spin.portable.toml — the manifest SpinKube runs (its classify
    carries the Wasm wasi:nn provider) — on components, routes, variables, outbound hosts.
spin.toml and spin.portable.toml must agree except for classify's source and build.
Routing and `{{ variable }}` templates are spinfer's own: this script asks
`spinfer manifest routes|resolve` (SPINFER_BIN, else the release build in SPINFER_CACHE)
instead of re-implementing them.
Every finding is printed as `RULE-ID: object: message`. Exit 1 when a good overlay has a
finding; with --expect-fail, exit 1 unless every directory fails with the rule its
`EXPECT` file names.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tomllib

import jsonschema
import kubernetes_validate
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
K8S_VERSION = "1.33"
CRD_FILES = ["core.spinkube.dev_spinapps.yaml", "core.spinkube.dev_spinappexecutors.yaml", "keda.sh_scaledobjects.yaml"]
DNS1035 = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
QUANTITY = re.compile(r"^(\d+(?:\.\d+)?)(m|Ki|Mi|Gi|Ti|k|M|G|T)?$")
SPINFER = os.environ.get("SPINFER_BIN") or os.path.join(
    os.environ.get("SPINFER_CACHE", os.path.expanduser("~/.cache/spinfer")), "target-host/release/spinfer")
# containerd handler → the shim binary a node must have for it.
SHIM_HANDLERS = {"spin": "containerd-shim-spin-v2", "spinfer": "containerd-shim-spinfer-v2 (shim/)"}
SCALE = {None: 1, "m": 1e-3, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}


def quantity(q):
    m = QUANTITY.match(str(q))
    if not m:
        raise ValueError(f"bad quantity {q!r}")
    return float(m.group(1)) * SCALE[m.group(2)]


def kubectl():
    return os.environ.get("KUBECTL") or os.path.expanduser("~/.cache/spinfer/bin/kubectl")


def render(directory):
    out = subprocess.run([kubectl(), "kustomize", directory], capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"kustomize {directory} failed:\n{out.stderr}")
    return [d for d in yaml.safe_load_all(out.stdout) if d]


def crd_schemas():
    """(group, kind, version) -> JSON schema from the CRD's openAPIV3Schema."""
    schemas = {}
    for f in CRD_FILES:
        crd = yaml.safe_load(open(os.path.join(ROOT, "k8s", "crds", f)))
        group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
        for v in crd["spec"]["versions"]:
            schemas[(f"{group}/{v['name']}", kind)] = structural_to_jsonschema(v["schema"]["openAPIV3Schema"])
    return schemas


def structural_to_jsonschema(node):
    """Kubernetes structural schema → JSON Schema: int-or-string, preserve-unknown-fields,
    and closed objects (the API server prunes/rejects unknown fields of typed objects)."""
    if isinstance(node, list):
        return [structural_to_jsonschema(n) for n in node]
    if not isinstance(node, dict):
        return node
    node = {k: structural_to_jsonschema(v) for k, v in node.items() if k != "description"}
    if node.pop("x-kubernetes-int-or-string", False):
        node.pop("type", None)
        node["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    preserve = node.pop("x-kubernetes-preserve-unknown-fields", False)
    if node.get("type") == "object" and "properties" in node and not preserve and "additionalProperties" not in node:
        node["additionalProperties"] = False
    return node


class Findings(list):
    def add(self, rule, obj, message):
        self.append(f"{rule}: {obj['kind']}/{obj['metadata'].get('name', '?')}: {message}")


def check_schemas(objs, schemas, f):
    for o in objs:
        key = (o.get("apiVersion"), o.get("kind"))
        if key in schemas:
            body = {k: v for k, v in o.items() if k != "status"}
            for err in jsonschema.Draft7Validator(schemas[key]).iter_errors(body):
                path = ".".join(str(p) for p in err.absolute_path) or "(root)"
                f.add("crd-schema", o, f"{path}: {err.message}")
        else:
            try:
                kubernetes_validate.validate(o, K8S_VERSION, strict=True)
            except kubernetes_validate.SchemaNotFoundError:
                f.add("unknown-kind", o, f"no schema for {key[0]} {key[1]}")
            except kubernetes_validate.ValidationError as e:
                path = ".".join(str(p) for p in e.path) or "(root)"
                f.add("builtin-schema", o, f"{path}: {e.message}")


def spin_manifest(name="spin.portable.toml"):
    with open(os.path.join(ROOT, name), "rb") as fh:
        return tomllib.load(fh)


def manifests_disagree(other="spin.portable.toml"):
    """What differs between spin.toml and `other` beyond classify's source/build (and the
    dependencies spin.deps.toml composes at load time)."""
    native, portable = spin_manifest("spin.toml"), spin_manifest(other)
    for m in (native, portable):
        for key in ("source", "build", "dependencies"):
            m["component"]["classify"].pop(key, None)
    keys = set(native) | set(portable) | {f"component.{c}" for c in set(native["component"]) | set(portable["component"])}
    get = lambda m, k: m["component"].get(k.split(".", 1)[1]) if k.startswith("component.") else m.get(k)
    return sorted(k for k in keys if k != "component" and get(native, k) != get(portable, k))


def spinfer_manifest(*args, manifest="spin.portable.toml"):
    """`spinfer manifest -f MANIFEST ARGS…` as JSON; (None, message) when spinfer refuses."""
    run = subprocess.run([SPINFER, "manifest", "-f", os.path.join(ROOT, manifest), *args],
                         capture_output=True, text=True)
    if run.returncode != 0:
        return None, (run.stderr.strip().splitlines() or ["spinfer failed"])[-1]
    return json.loads(run.stdout), None


def check_spinapps(objs, f):
    """The SpinApps and their executors; returns each SpinApp's resolved outbound hosts."""
    calls = {}
    spin = spin_manifest()
    components = spin.get("component", {})
    app_vars = spin.get("variables", {})
    by_kind = lambda kind: [o for o in objs if o["kind"] == kind]
    executors = {(o["metadata"].get("namespace"), o["metadata"]["name"]): o for o in by_kind("SpinAppExecutor")}
    runtime_classes = {o["metadata"]["name"]: o for o in by_kind("RuntimeClass")}
    for ex in executors.values():
        rc = ex["spec"].get("deploymentConfig", {}).get("runtimeClassName")
        if rc and runtime_classes and rc not in runtime_classes:
            f.add("runtimeclass-exists", ex, f"runtimeClassName {rc!r} is not a RuntimeClass in this deployment")
        handler = runtime_classes.get(rc, {}).get("handler")
        if rc in runtime_classes and handler not in SHIM_HANDLERS:
            f.add("runtimeclass-exists", ex, f"RuntimeClass {rc!r} must use a Spin shim's handler: "
                  + ", ".join(f"{h!r} ({b})" for h, b in SHIM_HANDLERS.items()))
        if handler == "spinfer" and not runtime_classes[rc].get("scheduling", {}).get("nodeSelector"):
            f.add("runtimeclass-node-selector", ex, f"RuntimeClass {rc!r} (handler 'spinfer') needs "
                  "scheduling.nodeSelector: only nodes with the spinfer shim and models can run its pods")
    for app in by_kind("SpinApp"):
        spec, name = app["spec"], app["metadata"]["name"]
        if not DNS1035.match(name) or len(name) > 52:
            f.add("name", app, "SpinApp names must be DNS-1035 labels of at most 52 characters")
        if spec.get("enableAutoscaling"):
            if "replicas" in spec:
                f.add("autoscaling-replicas", app, "enableAutoscaling with replicas: the webhook rejects both together")
            res = spec.get("resources", {})
            if "cpu" not in res.get("requests", {}) and "cpu" not in res.get("limits", {}):
                f.add("autoscaling-cpu-request", app, "an autoscaled SpinApp needs a CPU request (or limit): utilisation is relative to it")
        elif spec.get("replicas", 1) < 1:
            f.add("replicas", app, "a SpinApp without autoscaling needs replicas >= 1")
        if (app["metadata"].get("namespace"), spec.get("executor")) not in executors:
            f.add("executor-exists", app, f"executor {spec.get('executor')!r} is not a SpinAppExecutor in namespace {app['metadata'].get('namespace')!r}")
        kept = spec.get("components") or list(components)
        for c in kept:
            if c not in components:
                f.add("component-exists", app, f"component {c!r} is not in spin.toml (has {sorted(components)})")
        kept = [c for c in kept if c in components]
        dropped = [c for c in components if c not in kept]
        variables = {v["name"]: v.get("value") for v in spec.get("variables", [])}
        for v in variables:
            if v not in app_vars:
                f.add("variable-exists", app, f"variable {v!r} is not declared in spin.toml [variables]")
        given = [f"--var={k}={v}" for k, v in variables.items() if k in app_vars and v is not None]
        app_resolved, error = spinfer_manifest("resolve", *given)
        if error:
            f.add("template", app, f"spinfer cannot resolve the manifest with this SpinApp's variables: {error}")
            app_resolved = {"components": {}}
        calls[(app["metadata"].get("namespace"), name)] = [
            h for c in kept for h in app_resolved["components"].get(c, {}).get("allowed_outbound_hosts", [])]
        for c in kept:
            hosts = app_resolved["components"].get(c, {}).get("allowed_outbound_hosts", [])
            for host, resolved in zip(components[c].get("allowed_outbound_hosts", []), hosts):
                target = re.sub(r"^[a-z*]+://", "", resolved).split(":")[0]
                if target.startswith("*.spin.internal") or target == "*.spin.internal":
                    f.add("spin-internal", app, f"component {c!r} allows {host!r}: *.spin.internal fails the pod at start")
                elif target.endswith(".spin.internal") and target[: -len(".spin.internal")] in dropped:
                    f.add("spin-internal", app, f"component {c!r} reaches {resolved!r} but that component is not in this SpinApp: set the variable to the other SpinApp's Service")
        limits = spec.get("resources", {}).get("limits", {})
        inv = spec.get("invocationLimits", {}).get("memory")
        if inv and "memory" in limits and quantity(inv) > quantity(limits["memory"]):
            f.add("invocation-memory", app, f"invocationLimits.memory {inv} is over the memory limit {limits['memory']}")
        for probe in ("liveness", "readiness"):
            check = spec.get("checks", {}).get(probe)
            if not check:
                continue
            path = check["httpGet"]["path"]
            if check.get("initialDelaySeconds", 10) > 2:
                f.add("probe-delay", app, f"{probe} initialDelaySeconds {check.get('initialDelaySeconds', 10)} (default 10): Wasm pods start in ~1 s, use 1-2")
            elif probe == "readiness" and check.get("initialDelaySeconds", 10) + check.get("periodSeconds", 10) > 2:
                f.add("readiness-time", app, f"readiness initialDelaySeconds + periodSeconds = "
                      f"{check.get('initialDelaySeconds', 10) + check.get('periodSeconds', 10)} s (defaults 10 + 10): a pod "
                      "that serves ~0.2 s after start (make test-cri) would wait that long to be Ready; use 1 + 1")
            if path == "/.well-known/spin/health":
                continue
            served, error = spinfer_manifest("routes", path)
            served_by = served.get(path) if served else None
            if served_by not in kept:
                f.add("probe-route", app, f"{probe} path {path} is served by {served_by!r}, not a component this SpinApp keeps ({kept})")
    return calls


def check_autoscalers(objs, f):
    spinapps = {(o["metadata"].get("namespace"), o["metadata"]["name"]): o for o in objs if o["kind"] == "SpinApp"}
    deployments = {(o["metadata"].get("namespace"), o["metadata"]["name"]): o for o in objs if o["kind"] == "Deployment"}
    targets = {}
    for o in objs:
        if o["kind"] not in ("HorizontalPodAutoscaler", "ScaledObject"):
            continue
        ref, ns = o["spec"]["scaleTargetRef"], o["metadata"].get("namespace")
        kind = ref.get("kind", "Deployment")
        api = ref.get("apiVersion", "apps/v1")
        if (api, kind) != ("apps/v1", "Deployment"):
            f.add("scale-target", o, f"targets {api} {kind}: SpinApp has no scale subresource; target the apps/v1 Deployment the operator creates")
            continue
        key = (ns, ref["name"])
        targets.setdefault(key, []).append(o)
        app = spinapps.get(key)
        if app is None and key not in deployments:
            f.add("scale-target", o, f"no SpinApp or Deployment named {ref['name']!r} in namespace {ns!r}")
        elif app is not None and not app["spec"].get("enableAutoscaling"):
            f.add("scale-target", o, f"SpinApp {ref['name']!r} lacks enableAutoscaling: the operator would fight the autoscaler over replicas")
        if o["kind"] == "ScaledObject":
            cpu_mem = [t for t in o["spec"].get("triggers", []) if t["type"] in ("cpu", "memory")]
            if cpu_mem and o["spec"].get("minReplicaCount", 0) < 1:
                f.add("keda-min-replicas", o, "cpu/memory triggers need minReplicaCount >= 1")
        if o["kind"] == "HorizontalPodAutoscaler":
            if o["spec"].get("minReplicas", 1) > o["spec"]["maxReplicas"]:
                f.add("hpa-bounds", o, "minReplicas is above maxReplicas")
    for key, scalers in targets.items():
        if len(scalers) > 1:
            f.add("one-autoscaler", scalers[0], f"{len(scalers)} autoscalers on Deployment {key[1]!r}: use an HPA or a ScaledObject, never both")


def check_ingress(objs, f):
    services = {(o["metadata"].get("namespace"), o["metadata"]["name"]) for o in objs if o["kind"] in ("Service", "SpinApp")}
    for o in objs:
        if o["kind"] != "Ingress":
            continue
        for rule in o["spec"].get("rules", []):
            for p in rule.get("http", {}).get("paths", []):
                svc = p["backend"]["service"]
                if (o["metadata"].get("namespace"), svc["name"]) not in services:
                    f.add("ingress-backend", o, f"path {p['path']} goes to {svc['name']!r}, which is no Service or SpinApp here")
                elif svc.get("port", {}).get("number") not in (None, 80) and (o["metadata"].get("namespace"), svc["name"]) in {
                    (a["metadata"].get("namespace"), a["metadata"]["name"]) for a in objs if a["kind"] == "SpinApp"}:
                    f.add("ingress-backend", o, f"SpinApp Services listen on port 80, not {svc['port']['number']}")


def cpu_request(o):
    """CPU request (cores) of one pod of a SpinApp or Deployment (its limit if no request)."""
    if o["kind"] == "SpinApp":
        res = o["spec"].get("resources", {})
        return quantity(res.get("requests", {}).get("cpu") or res.get("limits", {}).get("cpu") or 0)
    total = 0.0
    for c in o["spec"]["template"]["spec"]["containers"]:
        res = c.get("resources", {})
        total += quantity(res.get("requests", {}).get("cpu") or res.get("limits", {}).get("cpu") or 0)
    return total


def check_capacity(objs, f):
    """Every autoscaler states the CPU it is sized for (annotation spinfer.dev/capacity-cpu),
    and the app's pods at their maximum counts fit it: pods beyond stay Pending."""
    key = lambda o: (o["metadata"].get("namespace"), o["metadata"]["name"])
    scalers = [o for o in objs if o["kind"] in ("HorizontalPodAutoscaler", "ScaledObject")]
    most = {(o["metadata"].get("namespace"), o["spec"]["scaleTargetRef"]["name"]):
            o["spec"].get("maxReplicas", o["spec"].get("maxReplicaCount", 100)) for o in scalers}
    total, parts = 0.0, []
    for o in objs:
        if o["kind"] not in ("SpinApp", "Deployment"):
            continue
        n = most.get(key(o), o["spec"].get("replicas", 1))
        total += n * cpu_request(o)
        parts.append(f"{o['metadata']['name']} {n} × {cpu_request(o) * 1000:.0f}m")
    for o in scalers:
        stated = o["metadata"].get("annotations", {}).get("spinfer.dev/capacity-cpu")
        if stated is None:
            f.add("node-capacity", o, "state the CPU its maximum is sized for (annotation spinfer.dev/capacity-cpu)")
        elif total > quantity(stated) + 1e-9:
            f.add("node-capacity", o, f"at their maximum the pods ask {total * 1000:.0f}m CPU ({', '.join(parts)}), "
                  f"more than the {stated} stated: the rest would stay Pending")


def check_service_calls(objs, calls, f):
    """A SpinApp on the spinfer shim calling another's Service: the Service exists, and the
    nodes' shim.toml (ConfigMap spinfer-node-shim-config) allows its private address."""
    services = {(o["metadata"].get("namespace"), o["metadata"]["name"]) for o in objs if o["kind"] in ("Service", "SpinApp")}
    handler = {o["metadata"]["name"]: o.get("handler") for o in objs if o["kind"] == "RuntimeClass"}
    executors = {(o["metadata"].get("namespace"), o["metadata"]["name"]):
                 handler.get(o["spec"].get("deploymentConfig", {}).get("runtimeClassName")) for o in objs
                 if o["kind"] == "SpinAppExecutor"}
    node_cfg = next((o for o in objs if o["kind"] == "ConfigMap" and o["metadata"]["name"] == "spinfer-node-shim-config"), None)
    suffixes = (tomllib.loads(node_cfg["data"]["shim.toml"]).get("outbound", {}).get("allow_private_suffixes", [])
                if node_cfg else [])
    for app in (o for o in objs if o["kind"] == "SpinApp"):
        ns = app["metadata"].get("namespace")
        if executors.get((ns, app["spec"].get("executor"))) != "spinfer":
            continue
        for rule in calls.get((ns, app["metadata"]["name"]), []):
            host = re.sub(r"^[a-z*]+://", "", rule).split(":")[0].rstrip(".")
            m = re.match(r"^([a-z0-9-]+)\.([a-z0-9-]+)\.svc(\.cluster\.local)?$", host)
            if not m:
                continue
            if (m.group(2), m.group(1)) not in services:
                f.add("service-call", app, f"calls {host!r}, but there is no Service or SpinApp {m.group(1)!r} in namespace {m.group(2)!r}")
            elif not any(host.endswith(s.rstrip(".")) and len(host) > len(s.rstrip(".")) for s in suffixes):
                f.add("service-call", app, f"calls the Service {host!r} on the spinfer shim, which refuses private addresses "
                      "unless the nodes' shim.toml allows them: add allow_private_suffixes = [\".svc.cluster.local\"] "
                      "(ConfigMap spinfer-node-shim-config)")


def check(directory, schemas):
    objs = render(directory)
    f = Findings()
    check_schemas(objs, schemas, f)
    calls = check_spinapps(objs, f)
    check_capacity(objs, f)
    check_service_calls(objs, calls, f)
    check_autoscalers(objs, f)
    check_ingress(objs, f)
    return objs, f


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dirs", nargs="+")
    ap.add_argument("--expect-fail", action="store_true", help="each dir must fail with the rule in its EXPECT file")
    args = ap.parse_args()
    schemas = crd_schemas()
    failed = False
    bad = 0
    for d in args.dirs:
        objs, findings = check(d, schemas)
        rel = os.path.relpath(d, ROOT)
        if args.expect_fail:
            expect = open(os.path.join(d, "EXPECT")).read().split()[0]
            hit = [x for x in findings if x.startswith(expect + ":")]
            status = "rejected" if hit else "NOT REJECTED"
            failed |= not hit
            bad += not hit
            print(f"[k8s] {rel}: {status} ({expect}){': ' + hit[0] if hit else ''}")
            if not hit:
                print("\n".join("    " + x for x in findings) or "    (no findings)")
        else:
            print(f"[k8s] {rel}: {len(objs)} objects, {'OK' if not findings else str(len(findings)) + ' finding(s)'}")
            for x in findings:
                print("    " + x)
            failed |= bool(findings)
            bad += bool(findings)
    if not args.expect_fail:
        for other in ("spin.portable.toml", "spin.deps.toml"):
            drift = manifests_disagree(other)
            print(f"[k8s] spin.toml vs {other}: {'agree' if not drift else 'DIFFER in ' + ', '.join(drift)}")
            failed |= bool(drift)
            bad += bool(drift)
    checked = len(args.dirs) + (0 if args.expect_fail else 2)  # + the manifests' agreement
    print(f"k8s-check: {checked - bad} passed, {bad} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()

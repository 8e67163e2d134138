#!/usr/bin/env bash
# Renders the Helm chart for several values files and validates the result
# offline: helm lint, the Kubernetes API schemas of every supported version
# (kubernetes-validate, strict: unknown fields fail), the Pod Security
# "restricted" profile, the monitoring objects; the chart's schema must reject
# bad values; the plain manifests in deploy/k8s pass the same checks; every
# process is a component of the chart and of deploy/k8s, wired alike; the
# chart README matches values.yaml.
#
# Needs helm and kubernetes-validate (with PyYAML); .ci/run installs them.
#   HELM=... KUBERNETES_VALIDATE=... PYTHON=... deploy/test/validate.sh
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
helm="${HELM:-helm}"
kv="${KUBERNETES_VALIDATE:-kubernetes-validate}"
python="${PYTHON:-python3}"
chart=deploy/helm/pkiserver
# Chart.yaml's kubeVersion is >=1.27; kubernetes-validate ships schemas up to 1.37.
versions=(1.27.0 1.28.0 1.29.0 1.30.0 1.31.0 1.32.0 1.33.0 1.34.0 1.35.0 1.36.0 1.37.0)
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
failures=0
fail() {
  echo "validate: FAIL $*" >&2
  failures=$((failures + 1))
}

# kubernetes-validate knows no custom resources: it skips the ServiceMonitor and
# the PrometheusRule (Prometheus Operator CRDs); deploy/test/monitoring.py
# checks those, and test/src/deploy/monitoring.test.ts the PromQL in them.
k8s_validate() {
  local version="$1"
  shift
  "$kv" --strict --quiet --no-warn -k "$version" "$@"
}

echo "validate: the validators reject known-bad manifests"
for v in "${versions[0]}" "${versions[-1]}"; do
  if k8s_validate "$v" deploy/test/broken-manifests.yaml >/dev/null 2>&1; then
    fail "kubernetes-validate $v accepted deploy/test/broken-manifests.yaml"
  fi
done
if "$python" deploy/test/pod_security.py deploy/test/broken-manifests.yaml 2>/dev/null; then
  fail "pod_security.py accepted deploy/test/broken-manifests.yaml"
fi

for values in deploy/test/values/*.yaml; do
  name="$(basename "$values" .yaml)"
  echo "validate: chart with $values"
  "$helm" lint --strict "$chart" -f "$values" --kube-version "${versions[-1]}" >"$out/lint.log" 2>&1 ||
    { cat "$out/lint.log" >&2; fail "helm lint $values"; }
  for v in "${versions[@]}"; do
    rendered="$out/$name-$v.yaml"
    if ! "$helm" template pkiserver "$chart" -n pkiserver -f "$values" --kube-version "$v" >"$rendered" 2>"$out/err"; then
      cat "$out/err" >&2
      fail "helm template $values (Kubernetes $v)"
      continue
    fi
    # helm test's pod is rendered too (templates/tests), so it is validated like the rest.
    k8s_validate "$v" "$rendered" || fail "$values does not validate against Kubernetes $v"
  done
  "$python" deploy/test/pod_security.py "$rendered" || fail "$values: Pod Security restricted"
done

echo "validate: the chart's schema and checks reject bad values"
# schema-*: values.schema.json rejects them, so helm lint fails too; render-*:
# the templates' checks reject them (helm lint reports a template's fail() as
# information only, so helm template is the check).
for values in deploy/test/invalid/*.yaml; do
  if [[ "$(basename "$values")" == schema-* ]] &&
    "$helm" lint "$chart" -f deploy/test/values/default.yaml -f "$values" --kube-version "${versions[-1]}" >/dev/null 2>&1; then
    fail "helm lint accepted $values"
  fi
  if "$helm" template pkiserver "$chart" -f deploy/test/values/default.yaml -f "$values" \
    --kube-version "${versions[-1]}" >/dev/null 2>&1; then
    fail "helm template accepted $values"
  fi
done
# Below Chart.yaml's kubeVersion the chart refuses to render.
if "$helm" template pkiserver "$chart" -f deploy/test/values/default.yaml --kube-version 1.26.0 >/dev/null 2>&1; then
  fail "helm template accepted Kubernetes 1.26 (kubeVersion is >=1.27)"
fi

echo "validate: plain manifests (deploy/k8s)"
k8s_manifests=()
for f in deploy/k8s/*.yaml; do
  [[ "$(basename "$f")" == kustomization.yaml ]] || k8s_manifests+=("$f")
done
for v in "${versions[@]}"; do
  k8s_validate "$v" "${k8s_manifests[@]}" || fail "deploy/k8s does not validate against Kubernetes $v"
done
"$python" deploy/test/pod_security.py "${k8s_manifests[@]}" || fail "deploy/k8s: Pod Security restricted"
# Every file kustomization.yaml lists exists, and every manifest but the example Secret is listed.
"$python" - "${k8s_manifests[@]}" <<'PY' || fail "deploy/k8s/kustomization.yaml resources"
import os, sys, yaml
k = yaml.safe_load(open("deploy/k8s/kustomization.yaml"))
listed = set(k.get("resources", []))
present = {os.path.basename(p) for p in sys.argv[1:]} - {"secret.example.yaml"}
missing = sorted(r for r in listed if not os.path.exists(os.path.join("deploy/k8s", r)))
unlisted = sorted(present - listed)
for r in missing: print(f"kustomization lists {r}, which does not exist", file=sys.stderr)
for r in unlisted: print(f"kustomization does not list {r}", file=sys.stderr)
sys.exit(1 if missing or unlisted else 0)
PY

echo "validate: every process deployed alike by the chart and deploy/k8s"
"$helm" template pkiserver "$chart" -n pkiserver -f deploy/test/values/default.yaml --kube-version "${versions[-1]}" \
  >"$out/components.yaml" 2>"$out/err" || { cat "$out/err" >&2; fail "helm template (components)"; }
"$python" deploy/test/components.py "$chart/values.yaml" "$out/components.yaml" "${k8s_manifests[@]}" ||
  fail "the chart's components and deploy/k8s differ"

echo "validate: monitoring objects (ServiceMonitor, PrometheusRule, dashboard)"
"$helm" template pkiserver "$chart" -n pkiserver -f deploy/test/values/all-options.yaml --kube-version "${versions[-1]}" \
  >"$out/monitoring.yaml" 2>"$out/err" || { cat "$out/err" >&2; fail "helm template (monitoring)"; }
"$python" deploy/test/monitoring.py "$chart" "$out/monitoring.yaml" || fail "the chart's monitoring objects"

echo "validate: chart README"
node deploy/helm/gen-readme.js --check || fail "chart README out of date"

if ((failures > 0)); then
  echo "validate: $failures check(s) failed" >&2
  exit 1
fi
echo "validate: chart and manifests valid for Kubernetes ${versions[0]}-${versions[-1]}"

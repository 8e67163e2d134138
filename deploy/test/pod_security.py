#!/usr/bin/env python3
"""Checks rendered manifests against the Pod Security Standards' "restricted"
profile (the namespace in deploy/k8s enforces it; so should any cluster the
chart is installed in). Covers the rules of the baseline and restricted
levels that apply to the fields these manifests can set.

    python3 pod_security.py manifest.yaml...   exit 1 and one line per violation
"""

import sys

import yaml

# restricted: only these volume types.
ALLOWED_VOLUMES = {
    "configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim", "projected", "secret",
}
ALLOWED_SECCOMP = {"RuntimeDefault", "Localhost"}
# restricted allows adding only NET_BIND_SERVICE after dropping ALL.
ALLOWED_ADD_CAPS = {"NET_BIND_SERVICE"}


def pod_specs(doc):
    kind = doc.get("kind")
    spec = doc.get("spec") or {}
    if kind == "Pod":
        yield spec
    elif kind in ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"):
        yield (spec.get("template") or {}).get("spec") or {}
    elif kind == "CronJob":
        yield (((spec.get("jobTemplate") or {}).get("spec") or {}).get("template") or {}).get("spec") or {}


def check_pod(name, spec):
    problems = []
    psc = spec.get("securityContext") or {}
    for field in ("hostNetwork", "hostPID", "hostIPC"):
        if spec.get(field):
            problems.append(f"{field} is set")
    for vol in spec.get("volumes") or []:
        kinds = set(vol) - {"name"}
        if not kinds <= ALLOWED_VOLUMES:
            problems.append(f"volume {vol.get('name')} is of type {', '.join(sorted(kinds))}")
    pod_non_root = psc.get("runAsNonRoot")
    pod_seccomp = (psc.get("seccompProfile") or {}).get("type")
    if psc.get("runAsUser") == 0:
        problems.append("pod runAsUser 0")
    if pod_seccomp is not None and pod_seccomp not in ALLOWED_SECCOMP:
        problems.append(f"pod seccompProfile {pod_seccomp}")
    containers = [("container", c) for c in spec.get("containers") or []]
    containers += [("initContainer", c) for c in spec.get("initContainers") or []]
    for what, c in containers:
        cname = f"{what} {c.get('name')}"
        sc = c.get("securityContext") or {}
        if sc.get("privileged"):
            problems.append(f"{cname}: privileged")
        if sc.get("allowPrivilegeEscalation") is not False:
            problems.append(f"{cname}: allowPrivilegeEscalation must be false")
        caps = sc.get("capabilities") or {}
        if "ALL" not in (caps.get("drop") or []):
            problems.append(f"{cname}: capabilities must drop ALL")
        extra = set(caps.get("add") or []) - ALLOWED_ADD_CAPS
        if extra:
            problems.append(f"{cname}: adds capabilities {', '.join(sorted(extra))}")
        non_root = sc.get("runAsNonRoot", pod_non_root)
        if non_root is not True:
            problems.append(f"{cname}: runAsNonRoot must be true (pod or container)")
        if sc.get("runAsUser") == 0:
            problems.append(f"{cname}: runAsUser 0")
        seccomp = (sc.get("seccompProfile") or {}).get("type", pod_seccomp)
        if seccomp not in ALLOWED_SECCOMP:
            problems.append(f"{cname}: seccompProfile must be RuntimeDefault or Localhost (pod or container)")
        for port in c.get("ports") or []:
            if port.get("hostPort"):
                problems.append(f"{cname}: hostPort {port['hostPort']}")
    return [f"{name}: {p}" for p in problems]


def main(paths):
    problems = []
    pods = 0
    for path in paths:
        with open(path, encoding="utf-8") as f:
            for doc in yaml.safe_load_all(f):
                if not isinstance(doc, dict):
                    continue
                for spec in pod_specs(doc):
                    pods += 1
                    name = f"{path}: {doc.get('kind')}/{(doc.get('metadata') or {}).get('name')}"
                    problems += check_pod(name, spec)
    for p in problems:
        print(f"pod-security: {p}", file=sys.stderr)
    if pods == 0:
        print("pod-security: no pod template found", file=sys.stderr)
        return 1
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

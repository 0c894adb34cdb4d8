#!/usr/bin/env bash
# Validate the Kubernetes manifests in deploy/k8s against the Kubernetes
# API schemas (strict: unknown fields are errors), offline, with the PyPI
# package kubernetes-validate in a virtual environment under .cache/ (made
# on first use; needs PyPI once). With FANZHA_BIN set (ctest sets it), the
# rules ConfigMap is also written out as a directory and checked with
# `fanzha rules check` and `fanzha rules test`, so the example rules stay
# loadable and their examples pass.
#
# usage: deploy/k8s/validate.sh [MANIFEST...]   (default: every object file here)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
venv="${FANZHA_K8S_VENV:-$root/.cache/k8s-validate-venv}"
version="${KUBERNETES_VALIDATE_VERSION:-1.37.0}"   # the package; it ships the schemas
k8s="${FANZHA_K8S_VERSION:-1.30.0}"                # the oldest Kubernetes we support

if [[ ! -x "$venv/bin/kubernetes-validate" ]]; then
  echo "validate.sh: installing kubernetes-validate $version into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "kubernetes-validate==$version"
fi

if [[ $# -eq 0 ]]; then
  set --
  for f in "$here"/*.yaml; do
    [[ "$(basename "$f")" == kustomization.yaml ]] && continue   # not an API object
    set -- "$@" "$f"
  done
fi

echo "validate.sh: kubernetes-validate --strict -k $k8s $*"
"$venv/bin/kubernetes-validate" --strict --no-warn -k "$k8s" "$@"
# current schemas too, so a field removed since is noticed
"$venv/bin/kubernetes-validate" --strict --no-warn --quiet "$@"

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
# what `kubectl apply -k` would send, where kubectl is installed
if [[ $# -gt 0 && "$1" == "$here/"* ]] && command -v kubectl >/dev/null; then
  echo "validate.sh: kubectl kustomize $here (rendered objects)"
  kubectl kustomize "$here" >"$tmp/rendered.yaml"
  "$venv/bin/kubernetes-validate" --strict --no-warn --quiet -k "$k8s" "$tmp/rendered.yaml"
fi

if [[ -n "${FANZHA_BIN:-}" && -f "$here/configmap-rules.yaml" ]]; then
  mkdir "$tmp/rules"
  tmp="$tmp/rules"
  "$venv/bin/python" - "$here/configmap-rules.yaml" "$tmp" <<'PY'
import os, sys, yaml
cm = yaml.safe_load(open(sys.argv[1]))
for key, text in cm["data"].items():
    with open(os.path.join(sys.argv[2], key), "w") as fp:
        fp.write(text)
PY
  echo "validate.sh: fanzha rules check (the fanzha-rules ConfigMap)"
  "$FANZHA_BIN" rules check "$tmp" --fast
  "$FANZHA_BIN" rules test "$tmp"
  if [[ -f "$here/configmap-config.yaml" ]]; then
    echo "validate.sh: fanzha reads the fanzha-config ConfigMap's configuration"
    "$venv/bin/python" - "$here/configmap-config.yaml" "$tmp/../fanzha.yaml" <<'PY'
import sys, yaml
cm = yaml.safe_load(open(sys.argv[1]))
open(sys.argv[2], "w").write(cm["data"]["fanzha.yaml"])
PY
    "$FANZHA_BIN" replay --config "$tmp/../fanzha.yaml" --rules "$tmp" --rules-cache-dir off \
      </dev/null >/dev/null
  fi
fi
echo "validate.sh: OK"

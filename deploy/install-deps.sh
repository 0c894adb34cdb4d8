#!/usr/bin/env bash
# install-deps.sh -- install what building, testing and running fanzha need
# on Debian 12, skipping what is already there. Needs root (or sudo).
#
#   deploy/install-deps.sh          build + test + local broker dependencies
#
# gnuplot-nox draws the charts of `fanzha stats --report` (and the benchmark
# plots); chromium, poppler-utils and a CJK font render, print and read back
# the report page in its test (tests/report_page.py).
set -euo pipefail

pkgs=(
  build-essential cmake pkg-config clang clang-format libclang-rt-14-dev
  librdkafka-dev libhyperscan-dev libxxhash-dev libjemalloc-dev libjsmn-dev libyaml-dev libopencc-dev libmicrohttpd-dev
  libicu-dev
  libsodium-dev
  libpsl-dev publicsuffix
  liblinear-dev
  kcat prometheus python3 python3-confluent-kafka python3-jsonschema python3-yaml python3-venv openssl
  openjdk-17-jre-headless maven procps curl
  gnuplot-nox
  chromium poppler-utils fonts-wqy-zenhei
)

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "[install-deps] all ${#pkgs[@]} packages present"
  exit 0
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "[install-deps] installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
echo "[install-deps] done"

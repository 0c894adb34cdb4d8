#!/usr/bin/env bash
# build.sh -- build the Kafka Streams peer: target/kstreams-peer.jar (all
# dependencies inside). Needs a JDK >= 17 and Maven; the first build
# downloads Kafka Streams and the Maven plugins from Maven Central into
# <repo>/.cache/m2 (git-ignored), later ones work offline (mvn -o).
#
#   bench/peers/kstreams/build.sh [extra mvn arguments, e.g. -o]
#   cd bench/peers/kstreams && mvn -q -o package     the same by hand (.mvn/maven.config)
set -euo pipefail
HERE="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)"
REPO_ROOT="$(cd -- "$HERE/../../.." && pwd -P)"
M2="${FANZHA_M2:-$REPO_ROOT/.cache/m2}"
command -v java >/dev/null || { echo "build.sh: java not found (apt-get install -y openjdk-17-jdk-headless)" >&2; exit 1; }
command -v mvn >/dev/null || { echo "build.sh: mvn not found (apt-get install -y maven)" >&2; exit 1; }
cd "$HERE"
# Maven 3.8 prints ANSI resets even with -B; strip them, keep its exit status.
mvn -q -B -Dstyle.color=never -Dmaven.repo.local="$M2" package -DskipTests "$@" 2>&1 \
    | sed 's/\x1b\[[0-9;]*m//g' >&2
test -s "$HERE/target/kstreams-peer.jar"
echo "$HERE/target/kstreams-peer.jar"

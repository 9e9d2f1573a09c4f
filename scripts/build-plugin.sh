#!/usr/bin/env bash
# Builds the plugin zip for one Elasticsearch release and prints the zip's path on stdout.
#
#   scripts/build-plugin.sh                  8.19.21: target/deep-hash-0.1.0-SNAPSHOT-es8.19.21.zip
#   scripts/build-plugin.sh 9.1.10           9.1.10:  target/es9/deep-hash-0.1.0-SNAPSHOT-es9.1.10.zip
#   scripts/build-plugin.sh 9.1.10 -B        arguments after the version replace the default Maven
#                                            arguments (-q -DskipTests): here, with the tests
#
# Any 8.x or 9.x release works the same way (another patch release: its version as the argument); 9.x
# builds with the es9 profile (Lucene 10) and needs Maven on JDK 21 or newer: when JAVA_HOME is older,
# /usr/lib/jvm/temurin-25-jdk-amd64 is used. The version may also come from ES_VERSION.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

version="${1:-${ES_VERSION:-8.19.21}}"
[ $# -gt 0 ] && shift
maven_args=("$@")
[ ${#maven_args[@]} -gt 0 ] || maven_args=(-q -DskipTests)

# The feature release of the JDK at $1 (17, 21, 25...), 0 where it cannot be told.
java_feature() {
  local v
  v="$(sed -n 's/^JAVA_VERSION="\([0-9]*\).*/\1/p' "$1/release" 2>/dev/null | head -n 1)"
  echo "${v:-0}"
}

major="${version%%.*}"
case "$major" in
  8)
    profile=()
    zip="target/deep-hash-0.1.0-SNAPSHOT-es$version.zip"
    ;;
  9)
    profile=(-Pes9)
    zip="target/es9/deep-hash-0.1.0-SNAPSHOT-es$version.zip"
    java_home="${JAVA_HOME:-$(dirname "$(dirname "$(readlink -f "$(command -v java)")")")}"
    if [ "$(java_feature "$java_home")" -lt 21 ]; then
      java_home=/usr/lib/jvm/temurin-25-jdk-amd64
      [ -x "$java_home/bin/java" ] || { echo "[build-plugin] Elasticsearch 9 needs Maven on JDK 21+: set JAVA_HOME to one" >&2; exit 2; }
    fi
    export JAVA_HOME="$java_home"
    ;;
  *)
    echo "[build-plugin] no build for Elasticsearch $version: 8.x (default 8.19.21) or 9.x (9.1.10)" >&2
    exit 2
    ;;
esac

echo "[build-plugin] Elasticsearch $version: mvn ${profile[*]} -Delasticsearch.version=$version ${maven_args[*]} package" >&2
mvn "${profile[@]}" -Delasticsearch.version="$version" "${maven_args[@]}" package >&2
[ -f "$zip" ] || { echo "[build-plugin] Maven did not leave $zip" >&2; exit 1; }
echo "$zip"

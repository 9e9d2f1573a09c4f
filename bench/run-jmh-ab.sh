#!/usr/bin/env bash
# Two builds of the scan benchmarks side by side: JMH forks alternate between the jars (one fork each,
# FORKS rounds, default 3), so that the machine's drift falls on both alike. Extra arguments go to JMH;
# ITERATIONS (default "-wi 3 -w 1 -i 5 -r 1") sets warm-up and measurement.
#   bench/run-jmh-ab.sh BEFORE.jar AFTER.jar OUT_DIR 'ScanBenchmark\.(rawLongArray|formatScan)$' -p bits=64
# Writes OUT_DIR/{before,after}-N.json; build a jar of another commit with
#   git worktree add /tmp/before COMMIT && (cd /tmp/before/bench && mvn -B -q package -DskipTests)
set -euo pipefail
[ $# -ge 4 ] || { echo "usage: $0 BEFORE.jar AFTER.jar OUT_DIR BENCHMARK_REGEX [JMH args]" >&2; exit 2; }
before=$1 after=$2 out=$3 pattern=$4
shift 4
java="${BENCH_JAVA:-/usr/lib/jvm/temurin-25-jdk-amd64/bin/java}"
# One index directory for both: same format, same seed, same codes.
indices="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/target/bench-indices"
mkdir -p "$out"
for round in $(seq 1 "${FORKS:-3}"); do
  for which in before after; do
    jar=$before; [ "$which" = after ] && jar=$after
    # shellcheck disable=SC2086
    "$java" -jar "$jar" "$pattern" ${ITERATIONS:--wi 3 -w 1 -i 5 -r 1} -f 1 "$@" \
      -jvmArgsAppend "-Xms2g -Xmx2g -Ddeephash.bench.dir=$indices" \
      -rf json -rff "$out/$which-$round.json" > "$out/$which-$round.txt" 2>&1 \
      || { tail -20 "$out/$which-$round.txt" >&2; exit 1; }
    echo "$which, round $round: $out/$which-$round.json"
  done
done

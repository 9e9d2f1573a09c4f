#!/usr/bin/env bash
# JMH scan kernels (bench/src/main/java/org/deephash/bench/ScanBenchmark.java) on Temurin 25, then the
# chart. Extra arguments go to JMH (e.g. -p bits=64 -f 2). Results: bench/results/jmh.json, jmh.txt,
# bench/throughput.png.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
./setup.sh >/dev/null
mvn -B -q package
java="${BENCH_JAVA:-/usr/lib/jvm/temurin-25-jdk-amd64/bin/java}"
mkdir -p results
"$java" -jar target/benchmarks.jar ScanBenchmark -rf json -rff results/jmh.json "$@" | tee results/jmh.txt
/usr/bin/python3 plot.py results/jmh.json throughput.png

"""Drives one pipeline's ingest for a profile (bench/run-hashing-profile.sh starts the node under JFR):
the test split's documents in bulks of 500 from four clients, repeated until `--seconds` have passed, and
prints the rate. The rate carries JFR's overhead: it is not a benchmark figure (bench/run-hashing-bench.sh).

    /usr/bin/python3 bench/hashing_profile.py --url URL --docs test-docs.ndjson --pipeline image [--seconds 60]
"""
import argparse
import time

from hashing_bench import PIPELINES, bulk_bodies, create, ingest_concurrently, read
from node_bench import Node


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--docs", required=True)
    parser.add_argument("--pipeline", choices=sorted(PIPELINES), required=True)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--clients", type=int, default=4)
    args = parser.parse_args()
    node = Node(args.url)
    node.request("PUT", f"/_ingest/pipeline/profile-{args.pipeline}", {"processors": [{"deep_hash": PIPELINES[args.pipeline]}]})
    docs = read(args.docs)
    bodies = bulk_bodies(docs, 500)
    sent, elapsed, start = 0, 0.0, time.perf_counter()
    while time.perf_counter() - start < args.seconds:
        create(node, "profile", f"profile-{args.pipeline}")
        elapsed += ingest_concurrently(args.url, "profile", bodies, args.clients)
        sent += len(docs)
    print(f"{args.pipeline}: {sent} documents in {elapsed:.1f} s, {sent / elapsed:.0f} a second (under JFR)")


if __name__ == "__main__":
    main()

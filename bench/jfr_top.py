"""Where the node's search threads spend their time: the execution samples of a JFR recording (as
`jfr print --json --events jdk.ExecutionSample` writes them), restricted to threads whose name holds
`[search]`, as the share of samples by top frame, by frame anywhere on the stack, and by stack.

  jfr print --json --events jdk.ExecutionSample bench.jfr > samples.json
  /usr/bin/python3 bench/jfr_top.py samples.json [--threads '[search]'] [--rows 25]
"""
import argparse
import collections
import json


def frame_name(frame):
    return frame["method"]["type"]["name"].split("/")[-1] + "." + frame["method"]["name"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("samples")
    ap.add_argument("--threads", default="[search]", help="a part of the thread names to keep")
    ap.add_argument("--rows", type=int, default=25)
    ap.add_argument("--depth", type=int, default=5, help="frames per stack in the stack table")
    args = ap.parse_args()

    with open(args.samples) as f:
        events = json.load(f)["recording"]["events"]
    pools = collections.Counter()
    top, anywhere, stacks = collections.Counter(), collections.Counter(), collections.Counter()
    kept = 0
    for event in events:
        thread = event["values"]["sampledThread"]
        name = thread["javaName"] or thread["osName"] or "?"
        pools[name.split("[T#")[0]] += 1
        if args.threads not in name:
            continue
        frames = [frame_name(f) for f in event["values"]["stackTrace"]["frames"]]
        if not frames:
            continue
        kept += 1
        top[frames[0]] += 1
        anywhere.update(set(frames))
        stacks[" < ".join(frames[: args.depth])] += 1

    print(f"{len(events)} samples; {kept} in threads named *{args.threads}*")
    print("\nsamples by thread pool:")
    for name, n in pools.most_common(10):
        print(f"  {n:7d}  {name}")
    for title, counts in (("top frame", top), ("frame anywhere on the stack", anywhere), ("stack", stacks)):
        print(f"\n{title} (share of the kept samples):")
        for name, n in counts.most_common(args.rows):
            print(f"  {n / max(kept, 1):6.1%}  {n:6d}  {name}")


if __name__ == "__main__":
    main()

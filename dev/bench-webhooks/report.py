"""One table from the results files of the three benches (run.sh).

Usage: python3 report.py [--markdown] results/rust.json results/node.json results/python.json
"""

import json
import sys

PASTDUE = "pastdue verify+map"
FLOOR = "floor hmac+IgnoredAny"
ORDER = [
    PASTDUE,
    "stripe-node constructEvent",
    "stripe-python construct_event",
    FLOOR,
    "pastdue verify only",
    "pastdue read+map only",
    "read: one pass",
    "read: one pass, from bytes",
    "read: envelope, then object",
    "hmac only",
    "IgnoredAny only",
    "serde_json::Value parse",
    "node floor hmac+JSON.parse",
    "python floor hmac+json.loads",
]
GOALS = [  # (contender, how many times pastdue's median it should be at least)
    ("stripe-node constructEvent", 3.0),
    ("stripe-python construct_event", 50.0),
]


def main():
    args = sys.argv[1:]
    markdown = "--markdown" in args
    files = [a for a in args if a != "--markdown"]
    rows, runtimes = [], []
    for f in files:
        with open(f) as fh:
            doc = json.load(fh)
        runtimes.append(doc["runtime"])
        rows.extend(doc["rows"])
    payloads = list(dict.fromkeys(r["payload"] for r in rows))
    by = {(r["contender"], r["payload"]): r for r in rows}
    rank = {c: i for i, c in enumerate(ORDER)}
    contenders = sorted({r["contender"] for r in rows}, key=lambda c: rank.get(c, len(ORDER)))

    head = ["contender", "payload", "bytes", "median µs", "p90 µs", "ratio vs pastdue"]
    table = []
    for p in payloads:
        base = by.get((PASTDUE, p))
        for c in contenders:
            r = by.get((c, p))
            if not r:
                continue
            ratio = f"{r['median_us'] / base['median_us']:.2f}×" if base else "-"
            table.append([c, p, str(r["bytes"]), f"{r['median_us']:.2f}", f"{r['p90_us']:.2f}", ratio])

    if markdown:
        print("| " + " | ".join(head) + " |")
        print("|" + "|".join(["---", "---", "---:", "---:", "---:", "---:"]) + "|")
        for t in table:
            print("| " + " | ".join(t) + " |")
    else:
        widths = [max(len(h), *(len(t[i]) for t in table)) for i, h in enumerate(head)]
        fmt = lambda cells: "  ".join(
            c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths))
        )
        print(fmt(head))
        print("  ".join("-" * w for w in widths))
        last = None
        for t in table:
            if last is not None and t[1] != last:
                print()
            last = t[1]
            print(fmt(t))

    print()
    print("Goals (medians): stripe-node ≥ 3× pastdue, stripe-python ≥ 50× pastdue, pastdue ≤ 2× floor")
    for p in payloads:
        base = by.get((PASTDUE, p))
        if not base:
            continue
        parts = []
        for c, goal in GOALS:
            r = by.get((c, p))
            if r:
                x = r["median_us"] / base["median_us"]
                parts.append(f"{c.split()[0]} {x:.1f}× ({'met' if x >= goal else 'NOT met'}, goal {goal:g}×)")
        floor = by.get((FLOOR, p))
        if floor:
            x = base["median_us"] / floor["median_us"]
            parts.append(f"floor: pastdue is {x:.2f}× it ({'met' if x <= 2 else 'NOT met'}, goal ≤ 2×)")
        print(f"- {p}: " + "; ".join(parts))
    print()
    print("Runtimes: " + "; ".join(runtimes))


if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""compare.py — do paper_account.py and `smaragdine account` agree?

    compare.py PROFILE.json PAPER.json

Compares, for every path, the self energy (what the path's own events got:
a leaf op's whole energy, a scope's time with no child running) and the
total energy (the path and everything under it), plus the measured and idle
energy of the domain. Prints the largest relative differences; exits 1 when
the paths differ or a relative difference exceeds --tolerance.
"""

import argparse
import json
import sys


def compare_domain(prof, paper, tolerance):
    """Prints the comparison for one domain; returns True when it agrees."""
    domain = paper["domain"]
    dom = next(d for d in prof["domains"] if d["name"] == domain)
    ours = {}
    for n in prof["nodes"]:
        if n["path"] and n["path"] != "(idle)":
            ours[n["path"]] = (n["self"].get(domain, 0.0), n["total"].get(domain, 0.0))
    theirs = {p: (v["self_j"], v["total_j"]) for p, v in paper["nodes"].items()}

    def rel(a, b):
        return abs(a - b) / max(abs(a), abs(b)) if a != b else 0.0

    only_ours = sorted(set(ours) - set(theirs))
    only_theirs = sorted(set(theirs) - set(ours))
    for p in only_ours:
        print(f"only in smaragdine: {p} ({ours[p][1]:.6g} J)")
    for p in only_theirs:
        print(f"only in python:     {p} ({theirs[p][1]:.6g} J)")
    common = sorted(set(ours) & set(theirs))
    self_diff = [(rel(ours[p][0], theirs[p][0]), p) for p in common if ours[p][0] or theirs[p][0]]
    total_diff = [(rel(ours[p][1], theirs[p][1]), p) for p in common]
    leaves = [p for p in common if not any(q.startswith(p + "/") for q in common)]
    leaf_diff = [(rel(ours[p][1], theirs[p][1]), p) for p in leaves]
    measured_diff = rel(dom["measured_j"], paper["measured_j"])
    print(f"domain {domain}: measured {dom['measured_j']:.9f} J (smaragdine) vs "
          f"{paper['measured_j']:.9f} J (python), rel diff {measured_diff:.2e}")
    idle_diff = abs(dom["idle_j"] - paper["idle_j"]) / dom["measured_j"]
    print(f"idle: {dom['idle_j']:.9f} J vs {paper['idle_j']:.9f} J, difference {idle_diff:.2e} "
          f"of the measured energy")
    print(f"paths: {len(common)} in both ({len(leaves)} leaves), "
          f"{len(only_ours)} only in smaragdine, {len(only_theirs)} only in python")
    worst = max(measured_diff, idle_diff)
    for label, diffs in (("leaf ops", leaf_diff), ("self (all paths)", self_diff),
                         ("total (all paths)", total_diff)):
        d, p = max(diffs)
        worst = max(worst, d)
        print(f"max relative difference, {label:17s}: {d:.2e} at {p}")
    ok = not only_ours and not only_theirs and worst <= tolerance
    print("AGREE" if ok else f"DISAGREE (tolerance {tolerance:g})")
    return ok


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("profile")
    ap.add_argument("paper")
    ap.add_argument("--tolerance", type=float, default=1e-3)
    args = ap.parse_args()
    with open(args.profile) as f:
        prof = json.load(f)
    with open(args.paper) as f:
        paper = json.load(f)
    results = paper if isinstance(paper, list) else [paper]
    ok = all([compare_domain(prof, r, args.tolerance) for r in results])
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()

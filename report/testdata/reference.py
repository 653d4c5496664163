#!/usr/bin/env python3
"""Reference values for report/sequential.go, computed independently of the
Go code and of gonum: Python's standard library only (math, statistics,
fractions for exact sums). Run from the repository root:

    python3 report/testdata/reference.py > report/testdata/reference.json

Each "sequential" case is the always-valid interval of Johari et al. (2022)
with the normal-mixture variance tau^2 tuned for m customers per group, from
each group's count, mean and (n-1) variance; each "cuped" case is CUPED
(Deng et al. 2013) on small data sets written out in full, with theta from
exact rational arithmetic; each "proportion" case is the two-proportion
z-test with the p-value from math.erfc.
"""
import json
import math
from fractions import Fraction
from statistics import NormalDist

ALPHA = 0.05


def sequential(na, ma, va, nb, mb, vb, m):
    V = va / na + vb / nb
    l = math.log(1 / ALPHA)
    r = 2 * l + math.log(1 + 2 * l)
    tau2 = r * (va + vb) / m
    d = mb - ma
    half = math.sqrt(V * (V + tau2) / tau2 * (2 * l + math.log((V + tau2) / V)))
    log_lambda = 0.5 * math.log(V / (V + tau2)) + tau2 * d * d / (2 * V * (V + tau2))
    return {"diff": d, "low": d - half, "high": d + half, "p": min(1.0, math.exp(-log_lambda)), "tau2": tau2}


def exact_var(xs):
    n = len(xs)
    mean = sum(Fraction(x) for x in xs) / n
    return mean, sum((Fraction(x) - mean) ** 2 for x in xs) / (n - 1)


def cuped(ya, xa, yb, xb):
    y = [Fraction(v) for v in ya + yb]
    x = [Fraction(v) for v in xa + xb]
    n = len(y)
    my, mx = sum(y) / n, sum(x) / n
    cov = sum((yi - my) * (xi - mx) for yi, xi in zip(y, x)) / (n - 1)
    vx = sum((xi - mx) ** 2 for xi in x) / (n - 1)
    theta = cov / vx
    adj = lambda ys, xs: [Fraction(yi) - theta * (Fraction(xi) - mx) for yi, xi in zip(ys, xs)]
    aa, ab = adj(ya, xa), adj(yb, xb)
    maa, vaa = exact_var(aa)
    mab, vab = exact_var(ab)
    _, vya = exact_var(ya)
    _, vyb = exact_var(yb)
    before = vya / len(ya) + vyb / len(yb)
    after = vaa / len(ya) + vab / len(yb)
    return {"theta": float(theta), "diff": float(mab - maa), "var_reduction": float(1 - after / before),
            "adjusted_var_a": float(vaa), "adjusted_var_b": float(vab)}


def two_proportion(x1, n1, x2, n2):
    p1, p2 = x1 / n1, x2 / n2
    d = p2 - p1
    se = math.sqrt(p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2)
    z975 = NormalDist().inv_cdf(0.975)
    p = (x1 + x2) / (n1 + n2)
    z = d / math.sqrt(p * (1 - p) * (1 / n1 + 1 / n2))
    return {"diff": d, "low": d - z975 * se, "high": d + z975 * se, "z": z, "p": math.erfc(abs(z) / math.sqrt(2))}


cases = {"sequential": [], "cuped": [], "proportion": []}
for na, ma, va, nb, mb, vb, m in [
    (1000, 0.10, 0.09, 1000, 0.13, 0.1131, 10000),
    (1000, 0.10, 0.09, 1000, 0.13, 0.1131, 1000),
    (50000, 0.05, 0.0475, 50000, 0.052, 0.049296, 10000),
    (300, 42.5, 3600.0, 280, 47.25, 4100.0, 10000),
    (12, 1.0, 2.0, 15, -0.5, 3.5, 100),
]:
    c = {"na": na, "ma": ma, "va": va, "nb": nb, "mb": mb, "vb": vb, "m": m}
    c.update(sequential(na, ma, va, nb, mb, vb, m))
    cases["sequential"].append(c)
for ya, xa, yb, xb in [
    ([0, 0, 10, 20, 30], [1, 2, 8, 15, 25], [0, 10, 20, 30, 40, 50], [3, 9, 14, 30, 33, 52]),
    ([5, 7, 1, 0, 12, 3], [4, 6, 2, 1, 10, 2], [9, 4, 6, 15, 2], [7, 5, 3, 12, 2]),
    ([0, 0, 0, 100, 0, 50], [0, 1, 0, 1, 0, 1], [0, 120, 0, 0, 80, 0, 60], [0, 1, 0, 0, 1, 0, 1]),
]:
    c = {"ya": ya, "xa": xa, "yb": yb, "xb": xb}
    c.update(cuped(ya, xa, yb, xb))
    cases["cuped"].append(c)
for x1, n1, x2, n2 in [(100, 1000, 130, 1000), (200, 1444, 498, 1385), (3, 5, 5, 6)]:
    c = {"x1": x1, "n1": n1, "x2": x2, "n2": n2}
    c.update(two_proportion(x1, n1, x2, n2))
    cases["proportion"].append(c)
print(json.dumps(cases, indent=1))

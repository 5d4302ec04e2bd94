"""recordlinkage 0.16 on a Febrl-like task: the spec's blocking, comparisons, ECM, one-to-one.

Index: one ``block()`` per blocking key of the specengine spec (on a key column computed by
``common.key_value``); recordlinkage takes the union of the pairs.
Compare: Jaro-Winkler on names and suburb, Levenshtein on address_1, postcode, date_of_birth
and soc_sec_id, exact on street_number and state (missing -> 0). Classify: unsupervised ECM
on the features binarised at 0.85, then recordlinkage's greedy ``OneToOneLinking`` over the
predicted links, highest match probability (then summed similarity) first.
"""

from __future__ import annotations

import time
from typing import Any

import pandas as pd
import recordlinkage
from common import ATTRIBUTES, args, key_name, key_value, report, write_links
from recordlinkage.network import OneToOneLinking


def load(path: object, keys: list[dict[str, Any]]) -> pd.DataFrame:
    df = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
    df = df.set_index("rec_id")
    records = df.fillna("").to_dict("records")
    for key in keys:
        df[key_name(key)] = [key_value(r.get, key) for r in records]
    return df


def main() -> None:
    align, target, out, keys = args()
    t0 = time.perf_counter()
    dfa, dfb = load(align, keys), load(target, keys)
    indexer = recordlinkage.Index()
    for key in keys:
        indexer.block(key_name(key))
    pairs = indexer.index(dfa, dfb)
    t1 = time.perf_counter()
    compare = recordlinkage.Compare()
    for field, kind, _ in ATTRIBUTES:
        if kind == "exact":
            compare.exact(field, field, label=field)
        else:
            method = "jarowinkler" if kind == "jaro_winkler" else "levenshtein"
            compare.string(field, field, method=method, label=field)
    features = compare.compute(pairs, dfa, dfb)
    t2 = time.perf_counter()
    ecm = recordlinkage.ECMClassifier(binarize=0.85)
    ecm.fit(features)
    prob = ecm.prob(features)
    keep = (prob >= 0.5).to_numpy()
    weights = pd.Series({field: w for field, _, w in ATTRIBUTES})
    chosen = features[keep]
    order = pd.DataFrame({"p": prob[keep], "s": (chosen * weights).sum(axis=1)})
    order = order.sort_values(["p", "s"], ascending=False)
    links = OneToOneLinking().compute(order.index)
    n = write_links(out, ((str(a), str(b)) for a, b in links))
    t3 = time.perf_counter()
    report(
        candidate_pairs=len(pairs),
        above_threshold=int(keep.sum()),
        links=n,
        stages={"index": t1 - t0, "compare": t2 - t1, "classify": t3 - t2},
    )


if __name__ == "__main__":
    main()

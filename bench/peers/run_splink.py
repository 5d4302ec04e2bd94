"""Splink 5 (DuckDB) on a Febrl-like task: the spec's blocking, EM training, one-to-one links.

Blocking rules for prediction: one ``block_on`` per blocking key of the specengine spec (on a
key column computed by ``common.key_value``; Splink takes the union and scores each pair
once). Comparisons: Jaro-Winkler levels on names and suburb, Levenshtein levels on
address_1, postcode, date_of_birth and soc_sec_id, exact on street_number and state.
Training, unsupervised: lambda from deterministic rules, u by random sampling, m by EM (two
sessions, blocked on date_of_birth and on soc_sec_id). Links: ``predict`` at match probability
0.5, then one-to-one: greedily, most probable first (default), or with Splink's own
``cluster_using_single_best_links`` when ``BENCH_SPLINK_ONE_TO_ONE=native`` (on febrl4 that
step alone took 33 s and 8.6 GiB of peak RSS for 5,000 predictions under the earlier broad
blocking, so it is not the default).
"""

from __future__ import annotations

import logging
import os
import time
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.csv as pv
import splink.comparison_library as cl
from common import (
    ATTRIBUTES,
    FIELDS,
    args,
    greedy_one_to_one,
    key_name,
    key_value,
    report,
    write_links,
)
from splink import DuckDBAPI, Linker, SettingsCreator, block_on

THRESHOLD = 0.5


def load(path: object, keys: list[dict[str, Any]]) -> pa.Table:
    types = {c: pa.string() for c in ("rec_id", *FIELDS)}
    table = pv.read_csv(
        path, convert_options=pv.ConvertOptions(column_types=types, strings_can_be_null=True)
    )
    records = table.to_pylist()
    for key in keys:
        values = [key_value(r.get, key) for r in records]
        table = table.append_column(key_name(key), pa.array(values, pa.string()))
    return table


def comparisons() -> list[object]:
    out: list[object] = []
    for field, kind, _ in ATTRIBUTES:
        if kind == "exact":
            out.append(cl.ExactMatch(field))
        elif kind == "jaro_winkler":
            out.append(cl.JaroWinklerAtThresholds(field, [0.92, 0.8]))
        else:
            out.append(cl.LevenshteinAtThresholds(field, [1, 2]))
    return out


def main() -> None:
    align, target, out, keys = args()
    t0 = time.perf_counter()
    con = duckdb.connect()
    db_api = DuckDBAPI(con)
    df_a = db_api.register(load(align, keys), dataset_display_name="a")
    df_b = db_api.register(load(target, keys), dataset_display_name="b")
    settings = SettingsCreator(
        link_type="link_only",
        unique_id_column_name="rec_id",
        comparisons=comparisons(),
        blocking_rules_to_generate_predictions=[block_on(key_name(k)) for k in keys],
        retain_matching_columns=False,
    )
    linker = Linker([df_a, df_b], settings, log_level=logging.WARNING)
    t1 = time.perf_counter()
    linker.training.estimate_probability_two_random_records_match(
        [block_on("soc_sec_id", "date_of_birth"), block_on("given_name", "surname", "postcode")],
        recall=0.8,
    )
    linker.training.estimate_u_using_random_sampling(max_pairs=1e7, seed=1)
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("date_of_birth"))
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("soc_sec_id"))
    t2 = time.perf_counter()
    predictions = linker.inference.predict(threshold_match_probability=THRESHOLD)
    above = con.sql(f"select count(*) from {predictions.physical_name}").fetchall()[0]
    t3 = time.perf_counter()
    if os.environ.get("BENCH_SPLINK_ONE_TO_ONE", "greedy") == "native":
        clusters = linker.clustering.cluster_using_single_best_links(
            predictions, duplicate_free_datasets=["a", "b"], threshold_match_probability=THRESHOLD
        )
        rows = con.sql(
            f"""select max(rec_id) filter (where source_dataset = 'a'),
                       max(rec_id) filter (where source_dataset = 'b')
                from {clusters.physical_name} group by cluster_id having count(*) = 2"""
        ).fetchall()
    else:
        scored = con.sql(
            f"""select case when source_dataset_l = 'a' then rec_id_l else rec_id_r end,
                       case when source_dataset_l = 'a' then rec_id_r else rec_id_l end,
                       match_probability
                from {predictions.physical_name}"""
        ).fetchall()
        rows = greedy_one_to_one(scored)
    n = write_links(out, rows)
    t4 = time.perf_counter()
    report(
        above_threshold=int(above[0]) if above else 0,
        links=n,
        stages={"load": t1 - t0, "train": t2 - t1, "predict": t3 - t2, "one_to_one": t4 - t3},
    )


if __name__ == "__main__":
    main()

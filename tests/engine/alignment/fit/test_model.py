import numpy as np

from engine.alignment.fit.model import AttributeModel, Model, probability_of, weight_of

MODEL = Model(
    (
        AttributeModel("name", (0.0, 0.1), (0.8, 0.15, 0.05), (0.01, 0.09, 0.9)),
        AttributeModel("year", (0.0,), (0.9, 0.1), (0.1, 0.9)),
    ),
    prior=0.001,
    threshold=0.9,
)


def test_weights_add_each_level_and_the_prior_and_missing_adds_nothing() -> None:
    d = {"name": np.array([0.0, 0.5, np.nan]), "year": np.array([0.0, 1.0, np.nan])}
    w = MODEL.weight(d, 3)
    assert np.allclose(w[0], weight_of(0.001) + np.log2(80) + np.log2(9))
    assert np.allclose(w[2], weight_of(0.001))
    p = MODEL.probability(d, 3)
    assert np.allclose(p, probability_of(w))
    assert np.allclose(MODEL.distance(d, 3), 1 - p)


def test_distance_of_near_certain_pairs_still_differ() -> None:
    d = {"name": np.zeros(2), "year": np.zeros(2)}
    strong = Model(
        tuple(AttributeModel(a.name, a.cuts, a.m, (1e-9,) * len(a.u)) for a in MODEL.attributes),
        0.5,
        0.5,
    )
    one = strong.distance(d, 2)
    assert (one > 0).all() and (one < 1e-15).all()


def test_round_trip_through_plain_data() -> None:
    data = MODEL.to_data()
    assert Model.from_data(data) == MODEL
    assert data["attributes"]["name"]["levels"] == [0.0, 0.1]
    assert MODEL.limit == 1 - 0.9


def test_table_lists_each_level() -> None:
    rows = MODEL.table()
    assert [r[:2] for r in rows] == [
        ("name", "exact"),
        ("name", "<= 0.1"),
        ("name", "> 0.1"),
        ("year", "exact"),
        ("year", "> 0"),
    ]
    assert rows[0][4] > 0 > rows[2][4]


def test_term_frequency_makes_a_common_value_weaker_evidence_than_a_rare_one() -> None:
    name = AttributeModel("name", (0.0, 0.1), (0.8, 0.15, 0.05), (0.01, 0.09, 0.9), True)
    model = Model((name,), prior=0.001, threshold=0.9)
    d = {"name": np.array([0.0, 0.0, 0.0, 0.05])}
    tf = {"name": np.array([0.2, 0.0001, np.nan, 0.2])}
    w = model.weight(d, 4, tf) - weight_of(0.001)
    assert np.allclose(
        w, [np.log2(0.8 / 0.2), np.log2(0.8 / 0.0001), np.log2(80), np.log2(0.15 / 0.09)]
    )
    assert np.allclose(
        model.weight(d, 4) - weight_of(0.001), [np.log2(80)] * 3 + [np.log2(0.15 / 0.09)]
    )
    assert Model.from_data(model.to_data()) == model
    assert model.to_data()["attributes"]["name"]["term_frequency"] is True
    assert "term_frequency" not in MODEL.to_data()["attributes"]["name"]

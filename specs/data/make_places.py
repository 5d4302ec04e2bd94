"""Generate the place files of the blocking-geo and blocking-kmeans specs (deterministic).

    python specs/data/make_places.py [FOLDER]

Writes ``places-a.csv`` (id, name, lat, long), ``places-b.csv`` (uri, label,
latitude, longitude) and ``places_true_links.csv`` (align id, target id) into
FOLDER (default: this file's folder). The target holds most align places again,
moved by up to about a kilometre and spelt differently (no accents, "St" for
"Saint", a typo, capitals), plus places nearby with other names and places
elsewhere: blocking by distance alone cannot link them, the names decide.
"""

from __future__ import annotations

import csv
import random
import sys
import unicodedata
from pathlib import Path

SEED = 20240611
PLACES = 400
SYLLABLES = [
    "bel", "mont", "ver", "cha", "roche", "lac", "fon", "gré", "bois", "val", "pré", "mar",
    "sau", "lan", "bri", "cour", "tel", "nay", "vil", "orm", "ès", "beau", "gar", "lé",
]  # fmt: skip
PREFIXES = ["", "", "", "Saint-", "Le ", "La ", "Sainte-"]
SUFFIXES = ["", "", "", "", "-sur-Mer", "-les-Bains", "-en-Forêt", "-le-Château"]


def _name(rng: random.Random) -> str:
    body = "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 3)))
    return rng.choice(PREFIXES) + body.capitalize() + rng.choice(SUFFIXES)


def _variant(rng: random.Random, name: str) -> str:
    """Another spelling of a place name."""
    out = name
    if rng.random() < 0.5:
        out = "".join(c for c in unicodedata.normalize("NFKD", out) if not unicodedata.combining(c))
    if rng.random() < 0.5:
        out = out.replace("Saint-", "St-").replace("Sainte-", "Ste-")
    if rng.random() < 0.3:
        out = out.replace("-", " ")
    if rng.random() < 0.25:
        i = rng.randrange(1, len(out))
        out = out[:i] + rng.choice("aeioulnrst") + out[i + 1 :]
    if rng.random() < 0.1:
        out = out.upper()
    return out


def _move(rng: random.Random, lat: float, lon: float, km: float) -> tuple[float, float]:
    """A point at most about ``km`` away (small distances: a flat approximation)."""
    return lat + rng.uniform(-km, km) / 111.0, lon + rng.uniform(-km, km) / 78.0


def generate(folder: Path) -> None:
    """Write the three files into ``folder``."""
    rng = random.Random(SEED)
    places = [(_name(rng), rng.uniform(43.0, 49.0), rng.uniform(-1.0, 7.0)) for _ in range(PLACES)]
    align = []
    target: list[tuple[str, float, float, int | None]] = []
    for index, (name, lat, lon) in enumerate(places):
        align.append((f"p{index:04d}", name, lat, lon))
        if rng.random() < 0.9:
            target.append((_variant(rng, name), *_move(rng, lat, lon, 0.8), index))
        if rng.random() < 0.3:  # a neighbour with another name, a few km away
            target.append((_name(rng), *_move(rng, lat, lon, 4.0), None))
    for _ in range(60):  # places the align side does not know
        target.append((_name(rng), rng.uniform(43.0, 49.0), rng.uniform(-1.0, 7.0), None))
    rng.shuffle(target)
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "places-a.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["id", "name", "lat", "long"])
        for row_id, name, lat, lon in align:
            writer.writerow([row_id, name, f"{lat:.5f}", f"{lon:.5f}"])
    links = []
    with (folder / "places-b.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["uri", "label", "latitude", "longitude"])
        for number, (name, lat, lon, source) in enumerate(target):
            uri = f"http://example.org/gazetteer/{number:04d}"
            writer.writerow([uri, name, f"{lat:.5f}", f"{lon:.5f}"])
            if source is not None:
                links.append((f"http://example.org/place/p{source:04d}", uri))
    with (folder / "places_true_links.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["align", "target"])
        writer.writerows(sorted(links))


if __name__ == "__main__":
    generate(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent)

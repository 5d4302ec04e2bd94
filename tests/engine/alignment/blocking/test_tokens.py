"""What the rules on shared tokens share: codes of token columns."""

from __future__ import annotations

import numpy as np
import pytest

from engine.alignment.blocking import tokens


def test_band_codes_survive_a_mixing_collision(monkeypatch: pytest.MonkeyPatch) -> None:
    values = np.array(
        [[3, 1, 3, 2, 1], [7, 5, 7, 7, 5], [1 << 40, 0, 1 << 40, 0, 0]], dtype=np.uint64
    )
    codes = tokens.row_codes(values)
    assert codes[0] == codes[2] and codes[1] == codes[4] and len(set(codes.tolist())) == 3
    monkeypatch.setattr(tokens, "_MIX", np.uint64(0))  # every column mixes to 0
    collided = tokens.row_codes(values)
    assert ((collided[:, None] == collided) == (codes[:, None] == codes)).all()

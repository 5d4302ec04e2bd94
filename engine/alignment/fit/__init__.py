"""Fitting a Fellegi–Sunter scoring model for an alignment spec (``engine fit``).

Pure functions on numpy arrays, one stage a module: ``levels`` cuts each
attribute's distance into comparison levels, ``u`` estimates the u
probabilities from the values' frequencies and random record pairs, ``em``
the m probabilities and the prior by expectation–maximisation over the
blocked candidate pairs,
``supervised`` the same from labelled pairs, and ``model`` holds the result as
plain data and scores pairs with it.
"""

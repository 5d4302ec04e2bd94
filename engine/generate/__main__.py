"""``python -m engine.generate``: the same as ``engine generate``."""

from engine.generate import main

if __name__ == "__main__":
    raise SystemExit(main())

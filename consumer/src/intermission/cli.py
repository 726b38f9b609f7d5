"""Entry point of the ``intermission`` console script (``intermission.cli:main``).

The commands live in ``intermission._cli``; this module keeps the declared entry point stable
and makes ``python -m intermission.cli`` work where the script is not on PATH.
"""

from ._cli import app, main

__all__ = ["app", "main"]

if __name__ == "__main__":
    main()

"""``python -m mlsteward``: the same as the ``mlsteward`` command."""

from mlsteward.cli import main

main()

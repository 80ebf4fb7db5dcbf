"""``python -m kuulo`` is the ``kuulo`` command."""

from kuulo.cli import main

main()

"""``python -m twisted_hvsock``: the same as the ``hvsock`` command."""

from .cli.main import main

main()

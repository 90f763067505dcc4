"""``python -m xinyong.cli``, as before the command line became a package."""

from xinyong.cli import main

main()

"""`python -m lwjvm`: the same as the `lwjvm` command."""

from lwjvm.cli import main

main()

"""`python -m lwjvm`: the same as the `lwjvm` command."""

from lwjvm.cli import main

if __name__ == "__main__":
    main()

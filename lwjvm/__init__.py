"""lwjvm: run a Java application on its own tiny kernel in a microVM."""

__version__ = "0.1.0"

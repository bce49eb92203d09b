"""pytest plugin registered by the package (entry point `pytest11`); fixtures are added here."""

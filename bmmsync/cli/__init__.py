"""Command-line interface: thin commands that call services and format with Rich."""

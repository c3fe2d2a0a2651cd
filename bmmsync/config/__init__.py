"""Configuration: the YAML config and model files, their validation, and secrets."""

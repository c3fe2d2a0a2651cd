"""README sections generated from the code (config reference, reason codes)."""

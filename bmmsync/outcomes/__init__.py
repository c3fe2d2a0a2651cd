"""Outcomes: where delivered work went by goal, how fast it is delivered, and how far each key
result is. Pure computation over domain values; the store and the CLI sit outside."""

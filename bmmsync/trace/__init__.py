"""Pure trace rules: resolve each ticket's capability and judge its chain. Stdlib only."""

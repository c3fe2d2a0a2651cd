"""A local server that behaves like GitHub and Jira, for the demo, the tests and the benchmarks."""

"""Example configurations, shipped inside the wheel as `bmmsync.examples`.

`bmmsync demo` reads `demo.yaml` and `demo-model.yaml` from there.
"""

"""The service: one run (sync -> check -> act) under the lease, and its scheduler."""

"""Fault tests: each file is named after the fault it injects (a worker killed, Redis away, a dropped
database connection, a full disk, a duplicate delivery …) and asserts a clear message, nothing
half-written, an audit chain that verifies, and a next attempt that succeeds."""

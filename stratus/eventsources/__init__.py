"""Event source mappings: one machine for queue and stream sources (a pure batching and retry
core, pollers, and the mappings owner)."""

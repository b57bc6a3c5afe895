"""An S3-compatible object store whose changes trigger functions (docs/design.md, Buckets)."""

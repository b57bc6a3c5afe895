"""SNS-compatible topics: topics and subscriptions (one owner), publishing and fan-out to
functions, queues and HTTP endpoints, and the wire handlers."""

"""SQS-compatible queues: the queue store (one owner), its wire handlers, and its side of
event source mappings."""

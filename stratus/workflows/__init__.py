"""Step Functions work-alike: the Amazon States Language (pure: definition, paths, io,
intrinsics, choice, handling) and durable executions of state machines whose tasks are Stratus
functions."""

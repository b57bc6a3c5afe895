"""Step Functions work-alike: the Amazon States Language (pure) and durable executions of state machines whose tasks are Stratus functions."""

"""DynamoDB-compatible tables: the table store (one owner), its expression language,
its streams, and the wire handlers of DynamoDB and DynamoDB Streams."""

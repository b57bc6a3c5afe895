"""The AWS wire protocols, driven by botocore's service models: one parser and one serializer
per protocol (json, query, rest-json, rest-xml), input validation from the model, and the
declaration through which a service is added."""

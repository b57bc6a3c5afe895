"""Stratus: a self-hosted serverless platform that speaks AWS Lambda's interfaces."""

__version__ = "0.1.0"

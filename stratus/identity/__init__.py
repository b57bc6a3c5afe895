"""Identities: IAM, STS, policy evaluation, and the credentials functions get."""

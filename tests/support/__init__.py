"""Helpers shared by the test tiers: real servers the tests stand up (S3, ...)."""

"""What the test tiers share: the servers and processes tests stand up (an archive server, moto's
S3, simulated GitLabs in the test's event loop or as child processes), self-signed certificates
and the waits around them. Test code only: it may use the testbed, never patch the operator.
"""

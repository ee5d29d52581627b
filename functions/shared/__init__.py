"""Code every Lambda function shares: the invocation prologue, config from the environment,
Trino clients for the coordinators, AWS error classification. Each function's zip carries it."""

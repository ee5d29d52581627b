"""What is neither deployed nor a test: the offline plan, the rehearsal, the test runner, the harness."""

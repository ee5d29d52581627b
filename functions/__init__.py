"""The Lambda functions, one folder each; shared/ holds the code they share (each zip carries it)."""

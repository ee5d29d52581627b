"""Entry point of `pulumi up --stack <name>`: the same program `make plan` runs under mocks."""

from components.program import program

program()

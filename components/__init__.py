"""The presto-on-aws Pulumi program: typed settings and one ComponentResource per concern."""

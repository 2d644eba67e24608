"""Subcommands of the `platestream` CLI; each module has `add_parser(subparsers)`."""

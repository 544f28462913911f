"""Bad command-line input that argparse cannot see."""


class UsageError(Exception):
    """Bad command-line input that argparse cannot see (exit code 2)."""

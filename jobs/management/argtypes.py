"""argparse `type=` validators shared by the job commands (runworker, prunejobs)."""

import argparse


def _at_least(cast, minimum, words):
    def check(value):
        number = cast(value)
        if number < minimum:
            raise argparse.ArgumentTypeError(words)
        return number

    return check


positive_int = _at_least(int, 1, "must be at least 1")
non_negative_int = _at_least(int, 0, "must be 0 or more")


def positive_float(value):
    number = float(value)
    if number <= 0:
        raise argparse.ArgumentTypeError("must be greater than 0")
    return number

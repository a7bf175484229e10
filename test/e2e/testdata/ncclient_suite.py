#!/usr/bin/python3
"""Drives secgwd with Debian's ncclient: every base operation, and
the rpc-error of every kind of bad request. Run by
test/e2e/ncclient_test.go, once per framing:

    ncclient_suite.py --port P --password PW --reader-password RPW \
        --framing 1.0|1.1 --yang-dir DIR [--section NAME]...

The sections run in this order on one daemon and build on each other's
configuration (a vpn hq, global options).
"""

import sys

from nc_edits import EditChecks
from nc_reads import ReadChecks
from nclib import Checks, main

SECTIONS = ["hello", "get_and_edit", "default_operation", "test_and_error_options", "copy_validate",
            "delete_config", "bad_requests", "locks_and_sessions", "confirmed_commits", "history_rollback",
            "filters", "with_defaults", "schemas", "yang_library", "notifications", "reader", "malformed"]


class Suite(EditChecks, ReadChecks, Checks):
    """Every section, on the plumbing of nclib.Checks."""


if __name__ == "__main__":
    sys.dont_write_bytecode = True
    main(Suite, SECTIONS)

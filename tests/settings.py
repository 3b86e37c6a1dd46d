"""Test settings: the real settings, on a throwaway data dir with the simulated host.

Set through os.environ (not just module globals) so real worker and Daphne
processes started by the tests inherit exactly the same configuration.
"""

import atexit
import os
import shutil
import sys
import tempfile

if "L4D2_DATA_DIR" not in os.environ:
    # Made by the test run; the processes it starts inherit it and make none of their own.
    os.environ["L4D2_DATA_DIR"] = tempfile.mkdtemp(prefix="l4d2-test-")
    atexit.register(shutil.rmtree, os.environ["L4D2_DATA_DIR"], ignore_errors=True)
os.environ.setdefault("DJANGO_SECRET_KEY", "tests-only-not-secret")
# Test runs sharing one Redis keep their counters apart (the processes they start inherit it).
os.environ.setdefault("L4D2_CACHE_PREFIX", os.path.basename(os.environ["L4D2_DATA_DIR"]))
os.environ.setdefault("DJANGO_HTTPS", "0")
os.environ.setdefault("HOSTCTL_SIMULATE", "1")
os.environ.setdefault("HOSTCTL_SIM_SECONDS", "1")
os.environ.setdefault("HOSTCTL_STOP_GRACE", "1")
# The simulated server has three players: a restart or stop would warn them for a minute.
# Tests of the warning set their own.
os.environ.setdefault("L4D2_WARNING_SECONDS", "0")

from l4d2site.settings import *  # noqa: E402,F403

# Hashing cost is not under test; MD5 keeps logins in tests fast.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# Several test runs may share one PostgreSQL (parallel checkouts): TEST_DB_SUFFIX keeps
# their throwaway databases apart.
if os.environ.get("TEST_DB_SUFFIX") and DATABASES["default"]["ENGINE"].endswith("postgresql"):  # noqa: F405
    _name = DATABASES["default"]["NAME"]  # noqa: F405
    DATABASES["default"]["TEST"] = {"NAME": f"test_{_name}_{os.environ['TEST_DB_SUFFIX']}"}  # noqa: F405

# The pytest process runs async tests whose sync_to_async calls each open a connection in that
# test's own context, which nothing closes (Daphne closes them at the end of every request):
# with a pool they would never go back, and the pool runs dry a few tests later. So the test
# process connects without one; the real processes the tests start (Daphne, runworker) do not
# import pytest and keep the pool, whose ceiling tests/test_db_connections.py holds.
if "pytest" in sys.modules:
    DATABASES["default"].get("OPTIONS", {}).pop("pool", None)  # noqa: F405

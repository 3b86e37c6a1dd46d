"""Settings from the environment (DESIGN.md §7)."""

import os
import stat
import subprocess
import sys

from .processes import ROOT


def run_manage(*args, **env):
    base = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp")}
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env={**base, **env}, capture_output=True, text=True
    )


def test_check_deploy_is_clean_with_production_variables(tmp_path):
    result = run_manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DJANGO_SECRET_KEY="x" * 30 + "production-secret-key-with-enough-entropy",
        DJANGO_ALLOWED_HOSTS="panel.example.org",
        L4D2_DATA_DIR=str(tmp_path),
    )
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


def test_debug_is_off_and_a_secret_key_is_generated_by_default(tmp_path):
    code = (
        "from django.conf import settings as s; "
        "print(s.DEBUG, len(s.SECRET_KEY) >= 50, s.SESSION_COOKIE_SECURE)"
    )
    result = run_manage("shell", "-c", code, L4D2_DATA_DIR=str(tmp_path))
    assert result.stdout.split()[-3:] == ["False", "True", "True"]
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600


def test_sqlite_runs_in_wal_mode_with_immediate_transactions(tmp_path):
    code = (
        "from django.db import connection as c; c.ensure_connection(); "
        "cur = c.cursor(); cur.execute('PRAGMA journal_mode'); "
        "print(cur.fetchone()[0], c.settings_dict['OPTIONS']['transaction_mode'])"
    )
    result = run_manage("shell", "-c", code, L4D2_DATA_DIR=str(tmp_path), DJANGO_SECRET_KEY="k")
    assert result.stdout.split()[-2:] == ["wal", "IMMEDIATE"]


def test_redis_url_switches_the_channel_layer(tmp_path):
    code = "from django.conf import settings as s; print(s.CHANNEL_LAYERS['default']['BACKEND'])"
    result = run_manage(
        "shell",
        "-c",
        code,
        L4D2_DATA_DIR=str(tmp_path),
        DJANGO_SECRET_KEY="k",
        REDIS_URL="redis://127.0.0.1:6379/0",
    )
    assert result.stdout.strip().endswith("channels_redis.core.RedisChannelLayer")


def test_the_data_dir_and_its_secrets_are_private_whatever_the_umask(tmp_path):
    data = tmp_path / "data"
    env = dict(
        os.environ, L4D2_DATA_DIR=str(data), DJANGO_SETTINGS_MODULE="l4d2site.settings", HOSTCTL_SIMULATE="1"
    )
    env.pop("DJANGO_SECRET_KEY", None)
    env.pop("DATABASE_URL", None)
    umask_0 = "import os, sys; os.umask(0); os.execv(sys.executable, [sys.executable, *sys.argv[1:]])"
    outputs = []
    for command in (["migrate", "--noinput"], ["bootstrap"], ["bootstrap"]):
        run = subprocess.run(
            [sys.executable, "-c", umask_0, "manage.py", *command],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
        )
        assert run.returncode == 0, run.stderr
        outputs.append(run.stdout)
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    for name in ("db.sqlite3", "secret_key", "admin-password.txt"):
        assert stat.S_IMODE((data / name).stat().st_mode) == 0o600, name
    for name in ("db.sqlite3-wal", "db.sqlite3-shm"):
        if (data / name).exists():
            assert stat.S_IMODE((data / name).stat().st_mode) == 0o600, name
    password = (data / "admin-password.txt").read_text().split("password: ")[1].strip()
    # Printed by the run that created the account, never again.
    assert password in outputs[1] and password not in outputs[2]


def test_the_backup_settings_default_to_a_folder_in_the_data_dir_and_refuse_a_bad_level(tmp_path):
    code = "from django.conf import settings as s; print(s.L4D2_BACKUP_DIR, s.L4D2_BACKUP_ZSTD_LEVEL)"
    result = run_manage("shell", "-c", code, L4D2_DATA_DIR=str(tmp_path), DJANGO_SECRET_KEY="k")
    assert result.stdout.split()[-2:] == [str(tmp_path / "backups"), "3"]
    result = run_manage(
        "check", L4D2_DATA_DIR=str(tmp_path), DJANGO_SECRET_KEY="k", L4D2_BACKUP_ZSTD_LEVEL="40"
    )
    assert result.returncode != 0 and "L4D2_BACKUP_ZSTD_LEVEL must be 1 to 19, not 40" in result.stderr


def test_every_package_that_logs_has_its_logger_configured():
    """A package's `getLogger(__name__)` with no configured ancestor logs warnings only, through
    Python's last-resort handler (streams, hostctl and l4d2site once had none)."""
    from django.conf import settings

    logging_packages = {
        path.relative_to(ROOT).parts[0]
        for path in ROOT.glob("*/**/*.py")
        if path.parts[len(ROOT.parts)] not in {".venv", "tests", "bench", "support"}
        and "getLogger(__name__)" in path.read_text()
    }
    assert {"streams", "hostctl", "l4d2site", "jobs"} <= logging_packages
    assert logging_packages <= set(settings.LOGGING["loggers"])

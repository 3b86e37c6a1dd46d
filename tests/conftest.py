"""The shared cast (owner, other_owner, staff, anonymous) and their servers and jobs."""

import pytest

# Django imports live inside the fixtures, so `pytest tests/hostctl -p no:django`
# (hostctl without Django at all) can still load this file.


def _user(django_user_model, username, **extra):
    return django_user_model.objects.create_user(username=username, password="pw-" + username, **extra)


@pytest.fixture
def owner(django_user_model):
    return _user(django_user_model, "owner")


@pytest.fixture
def other_owner(django_user_model):
    return _user(django_user_model, "other")


@pytest.fixture
def staff(django_user_model):
    return _user(django_user_model, "staff", is_staff=True, is_superuser=True)


def _client_for(user):
    from django.test import Client

    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def owner_client(owner):
    return _client_for(owner)


@pytest.fixture
def other_client(other_owner):
    return _client_for(other_owner)


@pytest.fixture
def staff_client(staff):
    return _client_for(staff)


@pytest.fixture
def anon_client():
    from django.test import Client

    return Client()


_next_port = iter(range(27015, 28000))


@pytest.fixture
def make_server(owner):
    from servers.models import Server

    def make(owner=owner, **fields):
        fields.setdefault("name", f"Server {len(Server.objects.all()) + 1}")
        fields.setdefault("port", next(_next_port))
        return Server.objects.create(owner=owner, **fields)

    return make


@pytest.fixture
def server(make_server):
    return make_server(name="Owner's server")


@pytest.fixture
def other_server(make_server, other_owner):
    return make_server(owner=other_owner, name="Other's server")


@pytest.fixture
def udp_server(make_server):
    """A server with a game port nothing else holds, so its simulated srcds can start."""
    from tests.processes import free_game_port

    return make_server(port=free_game_port())


@pytest.fixture
def sim_host(settings, tmp_path):
    """HOSTCTL_ROOT in the test's folder, quick simulators; no simulated process outlives the test."""
    from tests.processes import kill_leftovers

    settings.HOSTCTL_ROOT = tmp_path / "servers"
    settings.HOSTCTL_SIM_SECONDS = 0.2
    settings.HOSTCTL_STOP_GRACE = 1
    yield settings.HOSTCTL_ROOT
    # By working directory too: srcds_run execs the simulator, whose argv no longer names the root.
    kill_leftovers(settings.HOSTCTL_ROOT)


@pytest.fixture(scope="session")
def alliedmods():
    """The fake AlliedModders download host (hostctl/sim/alliedmods.py), for the whole session;
    each test gets it back at the default builds, full speed, not broken."""
    from hostctl.sim.alliedmods import AlliedModders

    host = AlliedModders().start()
    yield host
    host.stop()


@pytest.fixture
def drops(alliedmods):
    """The fake host, reset for this test (tests change its builds, rate and brokenness)."""
    from hostctl.sim.alliedmods import MM_BUILD, SM_BUILD

    alliedmods.sourcemod_build, alliedmods.metamod_build = SM_BUILD, MM_BUILD
    alliedmods.rate, alliedmods.broken = 0, False
    alliedmods.requests.clear()
    return alliedmods


@pytest.fixture(scope="module")
def steam_url():
    """The fake Steam Web API (hostctl/sim/steam_web.py): its base URL, for a module's tests."""
    from hostctl.sim import steam_web

    server = steam_web.serve()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def job(server, owner):
    from jobs.models import Job, JobKind

    return Job.enqueue(server, JobKind.INSTALL, owner)


@pytest.fixture(autouse=True)
def _fresh_fragments():
    """Rows kept by one test (jobs/_job_table.html) never meet another's: ids repeat after a rollback."""
    yield
    from django.conf import settings

    if settings.configured:  # not under `-p no:django` (hostctl's tests)
        from django.core.cache import caches

        caches["fragments"].clear()


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """On PostgreSQL, drop sessions that pooled reader threads still hold, so teardown can DROP."""
    yield
    from django.db import connection

    if connection.vendor == "postgresql":
        with django_db_blocker.unblock(), connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )


@pytest.fixture
def count_thread_sensitive_hops(monkeypatch):
    """Call it to start counting calls run in Django's one thread-sensitive thread; it
    returns the list they are added to (a crowd's handshakes would queue there)."""
    from asgiref.sync import SyncToAsync

    def start():
        hops = []
        real_call = SyncToAsync.__call__

        def counted(self, *args, **kwargs):
            if self._thread_sensitive:
                hops.append(self.func)
            return real_call(self, *args, **kwargs)

        monkeypatch.setattr(SyncToAsync, "__call__", counted)
        return hops

    return start

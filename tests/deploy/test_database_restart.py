"""PostgreSQL restarts (a failover, a maintenance window) under a running deployment: while it is
down the API answers a clean JSON 503; once it is back, the same worker and web processes, never
restarted, take every text accepted after the restart and deliver each exactly once.

This test stops and starts the PostgreSQL server the tests run on (the CI machine's own, found
with `pg_lsclusters` by the port of DATABASE_URL). It is skipped, with the reason, where that
cannot be done: not PostgreSQL on this machine, no `pg_ctlcluster`, not root, or
ARTERA_TEST_NO_PG_RESTART=1 (for a developer whose server others use).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator

import pytest
from django.db import connection, connections

from messaging.models import Message, SimulatorText
from practices.models import Practice
from tests.support import wait_until
from tests.support.deploy import Deployment
from webhooks.services import api_client_create

from .http import access_token, request

pytestmark = pytest.mark.django_db(transaction=True)

LOOPBACK = {"", "localhost", "127.0.0.1", "::1"}


def _cluster_for_test_database() -> tuple[str, str]:
    """(version, name) of the local cluster serving the test database, or skip."""
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: set DATABASE_URL=postgres://…")
    if os.environ.get("ARTERA_TEST_NO_PG_RESTART") == "1":
        pytest.skip("ARTERA_TEST_NO_PG_RESTART=1: this run may not restart PostgreSQL")
    if shutil.which("pg_ctlcluster") is None or shutil.which("pg_lsclusters") is None:
        pytest.skip("needs Debian's pg_ctlcluster to restart the PostgreSQL server")
    if os.geteuid() != 0:
        pytest.skip("restarting the PostgreSQL server takes root")
    db = connection.settings_dict
    if (db.get("HOST") or "") not in LOOPBACK:
        pytest.skip("the test database is not on this machine")
    port = str(db.get("PORT") or 5432)
    listing = subprocess.run(
        ["pg_lsclusters", "--no-header"], capture_output=True, text=True, check=True
    ).stdout
    for row in listing.splitlines():
        version, name, cluster_port, *_ = row.split()
        if cluster_port == port:
            return version, name
    pytest.skip(f"no local cluster listens on port {port}")


def _pg_ctl(cluster: tuple[str, str], action: str) -> None:
    command = ["pg_ctlcluster", "--skip-systemctl-redirect", *cluster, action]
    if action == "stop":
        command += ["-m", "fast"]
    subprocess.run(command, check=True, capture_output=True, timeout=120)


@pytest.fixture
def cluster() -> Iterator[tuple[str, str]]:
    found = _cluster_for_test_database()
    yield found
    # Whatever happened in the test, leave the server running.
    status = subprocess.run(["pg_ctlcluster", *found, "status"], capture_output=True, check=False)
    if status.returncode != 0:
        _pg_ctl(found, "start")


def _post_text(
    deployment: Deployment, token: str, practice: Practice, to: str
) -> tuple[int, dict, object]:
    return request(
        "POST",
        f"{deployment.base_url}/api/v1/messages",
        json_body={"to": to, "body": "After the restart", "practice_id": str(practice.pk)},
        headers={"Authorization": f"Bearer {token}"},
    )


def test_workers_and_web_survive_a_database_restart(
    cluster: tuple[str, str], deployment: Deployment, practice: Practice
) -> None:
    credentials = api_client_create(enterprise=practice.enterprise, name="EMR")
    token = access_token(deployment.base_url, credentials.client_id, credentials.client_secret)
    status, _, first = _post_text(deployment, token, practice, "+18185550100")
    assert status == 202, first
    wait_until(
        lambda: Message.objects.filter(pk=first["id"], status="delivered").exists(),
        what=f"the first text to be delivered\n{deployment.logs()}",
    )
    worker_pid = deployment.worker.proc.pid if deployment.worker.proc else None

    _pg_ctl(cluster, "stop")
    try:
        status, headers, body = _post_text(deployment, token, practice, "+18185550199")
        assert status == 503, body
        assert headers["content-type"] == "application/json"
        assert body["error"]["code"] == "service_unavailable"
        assert int(headers["retry-after"]) > 0
        status, headers, body = request(
            "POST",
            f"{deployment.base_url}/oauth/token/",
            form={"grant_type": "client_credentials"},
            headers={"Authorization": "Basic eDp5"},
        )
        assert (status, headers["content-type"]) == (503, "application/json"), body
    finally:
        _pg_ctl(cluster, "start")
    connections.close_all()  # this process's connections died with the server too
    wait_until(lambda: _database_answers(), timeout=60, what="PostgreSQL to accept connections")

    accepted = []
    for i in range(20):
        status, _, body = _post_text(deployment, token, practice, f"+1818555{2000 + i:04d}")
        assert status == 202, body
        accepted.append(body["id"])

    wait_until(
        lambda: Message.objects.filter(pk__in=accepted, status="delivered").count() == 20,
        timeout=120,
        what=f"every text accepted after the restart to be delivered\n{deployment.logs()}",
    )
    carried = SimulatorText.objects.filter(client_reference__in=accepted)
    assert sorted(carried.values_list("client_reference", flat=True)) == sorted(accepted)
    # The same processes did it: nobody restarted the worker.
    assert deployment.worker.proc is not None
    assert deployment.worker.proc.poll() is None
    assert deployment.worker.proc.pid == worker_pid
    assert deployment.web.proc is not None
    assert deployment.web.proc.poll() is None


def _database_answers() -> bool:
    try:
        connection.ensure_connection()
    except Exception:
        connections.close_all()
        return False
    return True

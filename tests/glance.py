"""A real OpenStack Glance (Images API v2) on loopback for integration tests.

``start_glance(directory)`` writes a private configuration into ``directory``
(sqlite database, file store, policy, paste pipeline, uwsgi ini), copies in
the empty database the venv holds (or runs ``glance-manage db_sync``) and
serves ``glance.wsgi.api:application`` with uwsgi on 127.0.0.1 and a free
port. The ``glance`` session fixture
(``glance_fixture``) does the same for pytest and stops it at the end.

Glance comes from its own virtualenv, made by ``tests/glance-venv.sh``
(default ``.venv-glance`` in the repo root, or ``$GLANCE_VENV``): its
OpenStack dependency stack stays out of the project's ``.venv``. The helpers
here use only the standard library (plus tests/stores.py, which does too).

Why the configuration looks the way it does (each was a failure first):

* ``glance-api`` is a stub in current Glance ("Standalone glance-api is no
  longer supported"), hence uwsgi.
* There is no Keystone: the paste pipeline has Glance's
  ``unauthenticated-context`` filter, which makes every request an admin
  context with no user, no project and no roles. Clients send no token.
* With that context, the new secure-RBAC policy defaults (role and scope
  checks) refuse every call with 403: ``[oslo_policy] enforce_new_defaults``
  and ``enforce_scope`` are false, so the deprecated rules (``rule:default``,
  i.e. anyone) apply. ``publicize_image`` has no deprecated rule (it is
  ``role:admin``), so the policy file opens it to everyone.
* Glance reads a chunked upload through ``uwsgi.chunked_read()``, which
  refuses chunks of 1 MiB and more unless ``chunked-input-limit`` is raised:
  python-glanceclient sends 1 MiB chunks, so its uploads were 500s.
* uwsgi 2.0 *reloads* on SIGTERM: ``die-on-term`` makes it exit, so the
  server can be stopped by its PID.
* uwsgi's http-socket closes each connection after one answer without a
  ``Connection: close``: requests (so glanceclient) reused the connection and
  got "Connection reset by peer", hence that header is added.
* Without deployments' ``schema-image.json`` (the wheel has none) Glance
  takes any string as kernel_id; with it, only a UUID or null.
* uwsgi never answers ``Expect: 100-continue``: curl sends it for bodies over
  1 MB and then waits 1 s before sending anyway (urllib never sends it).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.stores import (
    LOOPBACK,
    NotInstalledError,
    Response,
    ServerProcess,
    StoreError,
    free_port,
    http,
)

__all__ = [
    "INSTALL_HINT",
    "REPO_ROOT",
    "Glance",
    "GlanceError",
    "GlanceProcess",
    "glance_fixture",
    "glance_venv",
    "start_glance",
    "write_glance_config",
]

REPO_ROOT = Path(__file__).resolve().parents[1]
INSTALL_HINT = "run tests/glance-venv.sh (make glance)"
# Written by tests/glance-venv.sh once the venv passed its own checks.
STAMP = ".glance-installed"
# Also written by it: an empty database at this Glance's schema, copied in
# place of a db_sync (2 s of imports and migrations) at each start.
DB_TEMPLATE = "glance-db-template.sqlite"
OCTET_STREAM = "application/octet-stream"

# Only what the Images API needs: no Keystone (authtoken/context), no image
# cache, no CORS or profiler. The healthcheck's disable file is in the private
# directory instead of /etc/glance.
PASTE_INI = """\
[composite:glance-api]
paste.composite_factory = glance.api:root_app_factory
/: api
/healthcheck: healthcheck

[composite:api]
paste.composite_factory = glance.api:pipeline_factory
default = versionnegotiation unauthenticated-context rootapp

[composite:rootapp]
paste.composite_factory = glance.api:root_app_factory
/: apiversions
/v2: apiv2app

[app:apiversions]
paste.app_factory = glance.api.versions:create_resource

[app:apiv2app]
paste.app_factory = glance.api.v2.router:API.factory

[app:healthcheck]
paste.app_factory = oslo_middleware:Healthcheck.app_factory
backends = disable_by_file
disable_by_file_path = {dir}/healthcheck_disable

[filter:versionnegotiation]
paste.filter_factory = glance.api.middleware.version_negotiation:VersionNegotiationFilter.factory

[filter:unauthenticated-context]
paste.filter_factory = glance.api.middleware.context:UnauthenticatedContextMiddleware.factory
"""

# enabled_backends (multi-store) rather than the deprecated [glance_store]
# stores/default_store; the two reserved stores Glance always wants (staging
# for image import, tasks) get directories of their own.
API_CONF = """\
[DEFAULT]
enabled_backends = file:file
worker_self_reference_url = {url}
image_cache_dir = {dir}/image-cache
use_stderr = true
debug = false

[database]
connection = sqlite:///{dir}/glance.sqlite

[glance_store]
default_backend = file

[file]
filesystem_store_datadir = {dir}/images

[os_glance_staging_store]
filesystem_store_datadir = {dir}/staging

[os_glance_tasks_store]
filesystem_store_datadir = {dir}/tasks

[paste_deploy]
flavor =
config_file = {dir}/glance-api-paste.ini

[oslo_policy]
enforce_new_defaults = false
enforce_scope = false
policy_file = {dir}/policy.yaml

[oslo_concurrency]
lock_path = {dir}/locks
"""

# JSON is YAML: no PyYAML needed to write it.
POLICY = {"publicize_image": ""}

# The custom-property schema deployments install as /etc/glance/schema-image.json
# (the wheel does not ship it). Without it Glance takes any string, so
# ``kernel_id: "not-a-uuid"`` would pass here and fail in production; with it,
# kernel_id/ramdisk_id must be UUIDs or null.
UUID_PATTERN = (
    "^([0-9a-fA-F]){8}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){12}$"
)
SCHEMA_IMAGE = {
    "kernel_id": {
        "type": ["null", "string"],
        "pattern": UUID_PATTERN,
        "description": "ID of the kernel image of an AMI-style image.",
    },
    "ramdisk_id": {
        "type": ["null", "string"],
        "pattern": UUID_PATTERN,
        "description": "ID of the ramdisk image of an AMI-style image.",
    },
    "instance_uuid": {"type": "string", "description": "Instance the image came from."},
    "architecture": {"type": "string", "description": "CPU architecture."},
    "os_distro": {"type": "string", "description": "Operating system distribution."},
    "os_version": {"type": "string", "description": "Operating system version."},
    "description": {"type": "string", "description": "What the image is."},
}

UWSGI_INI = """\
[uwsgi]
http-socket = {host}:{port}
virtualenv = {venv}
module = glance.wsgi.api:application
env = OS_GLANCE_CONFIG_DIR={dir}
master = true
processes = 1
threads = 4
; the app starts threads (task pool, staging cleanup): load it in the worker
lazy-apps = true
; exit when the app cannot load, instead of answering 500 to everything
need-app = true
; SIGTERM means stop, not reload; workers die with the master
die-on-term = true
no-orphans = true
reload-mercy = 5
worker-reload-mercy = 5
; the largest chunk of a chunked upload: python-glanceclient sends 1 MiB
; chunks, which fail (500, "unable to receive chunked part") with uwsgi's
; default and with 1048576; 64 KiB chunks pass either way
chunked-input-limit = 67108864
; http-socket closes the connection after each answer without saying so:
; clients that keep connections (requests, so glanceclient) then get a reset
add-header = Connection: close
buffer-size = 65535
"""


class GlanceError(StoreError):
    """A Glance request failed; keeps the status and the body."""

    def __init__(self, method: str, url: str, status: int, body: str) -> None:
        super().__init__(f"{method} {url} -> HTTP {status}: {body[:2000]}")
        self.status = status
        self.body = body


def glance_venv() -> Path:
    """The Glance virtualenv: ``$GLANCE_VENV``, else ``.venv-glance`` in the repo root."""
    return Path(os.environ.get("GLANCE_VENV") or REPO_ROOT / ".venv-glance")


def _checked_venv(venv: Path) -> Path:
    needed = [venv / STAMP, venv / "bin" / "uwsgi", venv / "bin" / "glance-manage"]
    missing = [str(path) for path in needed if not path.exists()]
    if missing:
        raise NotInstalledError(f"{INSTALL_HINT}\n(missing: {', '.join(missing)})")
    return venv


def write_glance_config(directory: Path, port: int, venv: Path) -> Path:
    """Write glance-api.conf, its paste ini, the policy and uwsgi.ini into ``directory``.

    Returns the uwsgi ini. All state (database, images, staging, locks) is
    under ``directory``.
    """
    for sub in ("images", "staging", "tasks", "image-cache", "locks"):
        (directory / sub).mkdir(parents=True, exist_ok=True)
    url = f"http://{LOOPBACK}:{port}"
    (directory / "glance-api.conf").write_text(API_CONF.format(dir=directory, url=url), "utf-8")
    (directory / "glance-api-paste.ini").write_text(PASTE_INI.format(dir=directory), "utf-8")
    (directory / "policy.yaml").write_text(json.dumps(POLICY, indent=2) + "\n", "utf-8")
    # Found through the config dir (oslo.config find_file).
    schema = json.dumps(SCHEMA_IMAGE, indent=2) + "\n"
    (directory / "schema-image.json").write_text(schema, "utf-8")
    ini = directory / "uwsgi.ini"
    ini.write_text(UWSGI_INI.format(host=LOOPBACK, port=port, venv=venv, dir=directory), "utf-8")
    return ini


def _glance_env(directory: Path) -> dict[str, str]:
    # The test run's own interpreter settings must not reach Glance's Python.
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in {"PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONSTARTUP"}
    }
    env["OS_GLANCE_CONFIG_DIR"] = str(directory)
    # Eventlet's deprecation notice on every import is noise in the logs.
    env["PYTHONWARNINGS"] = "ignore"
    return env


def _init_database(venv: Path, directory: Path, timeout: float) -> None:
    template = venv / DB_TEMPLATE
    if template.exists():
        shutil.copyfile(template, directory / "glance.sqlite")
        return
    argv = [
        str(venv / "bin" / "glance-manage"),
        "--config-file",
        str(directory / "glance-api.conf"),
        "db_sync",
    ]
    log = directory / "db_sync.log"
    with log.open("wb") as out:
        done = subprocess.run(
            argv,
            cwd=directory,
            env=_glance_env(directory),
            stdout=out,
            stderr=subprocess.STDOUT,
            timeout=timeout,
            check=False,
        )
    if done.returncode != 0:
        tail = "\n".join(log.read_text("utf-8", "replace").splitlines()[-30:])
        raise StoreError(f"glance-manage db_sync failed ({done.returncode}):\n{tail}")


class GlanceProcess(ServerProcess):
    """The uwsgi master, its output in a log file, stopped by PID (and its group)."""

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM to the master's PID; after ``timeout``, SIGKILL to its process group.

        On SIGTERM the master (die-on-term) stops its worker and waits for it.
        uwsgi runs in a session of its own whose group id is the master's PID,
        so the SIGKILL takes the worker too; it is sent before the master is
        reaped, while that PID cannot belong to anyone else.
        """
        if not self.alive():
            return
        self.popen.terminate()
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pid, signal.SIGKILL)
            self.popen.wait(timeout)


@dataclass
class Glance:
    """A running Glance Images API v2: ``url`` is what clients use as ``OS_IMAGE_URL``.

    Requests need no token (there is no Keystone); the helpers raise
    GlanceError on any 4xx/5xx, ``request`` returns the answer as it is.
    """

    url: str
    process: GlanceProcess
    directory: Path
    started_in_s: float
    opener: urllib.request.OpenerDirector = field(
        default_factory=urllib.request.build_opener, repr=False
    )

    @property
    def pid(self) -> int:
        """The uwsgi master's process id."""
        return self.process.pid

    def stop(self) -> None:
        """Stop uwsgi by its PID (SIGTERM, then SIGKILL), its worker with it."""
        self.process.stop()

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
        timeout: float = 60.0,
    ) -> Response:
        """One request to ``url + path``; error statuses are returned, not raised."""
        return http(self.opener, method, self.url + path, body, headers, timeout)

    def _ok(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Response:
        response = self.request(method, path, body, headers)
        if response.status >= 400:
            body_text = response.body.decode("utf-8", "replace")
            raise GlanceError(method, self.url + path, response.status, body_text)
        return response

    def create_image(
        self,
        name: str,
        disk_format: str,
        container_format: str,
        visibility: str = "private",
        **properties: Any,
    ) -> dict[str, Any]:
        """POST /v2/images: a record in status ``queued``; extra keywords are custom properties."""
        record = {
            "name": name,
            "disk_format": disk_format,
            "container_format": container_format,
            "visibility": visibility,
            **properties,
        }
        headers = {"Content-Type": "application/json"}
        image: dict[str, Any] = self._ok(
            "POST", "/v2/images", json.dumps(record).encode("utf-8"), headers
        ).json()
        return image

    def upload(self, image_id: str, data: bytes) -> None:
        """PUT /v2/images/{id}/file: the image data (204; the image becomes ``active``)."""
        self._ok("PUT", f"/v2/images/{image_id}/file", data, {"Content-Type": OCTET_STREAM})

    def images(self, **filters: str) -> list[dict[str, Any]]:
        """Every image GET /v2/images lists, following its ``next`` links.

        Keywords are the API's query filters, e.g. ``name="x"``,
        ``status="active"``, ``visibility="all"``, ``os_hash_value="..."``.
        """
        path: str | None = "/v2/images?" + urllib.parse.urlencode({"limit": "100", **filters})
        found: list[dict[str, Any]] = []
        while path:
            page = self._ok("GET", path).json()
            found.extend(page["images"])
            path = page.get("next")  # "/v2/images?marker=...", absent on the last page
        return found

    def image(self, image_id: str) -> dict[str, Any]:
        """GET /v2/images/{id}: the image record (custom properties at top level)."""
        image: dict[str, Any] = self._ok("GET", f"/v2/images/{image_id}").json()
        return image

    def download(self, image_id: str) -> bytes:
        """GET /v2/images/{id}/file: the stored bytes (204 and b"" if none were uploaded)."""
        return self._ok("GET", f"/v2/images/{image_id}/file").body

    def delete(self, image_id: str) -> None:
        """DELETE /v2/images/{id} (204): record and data both go."""
        self._ok("DELETE", f"/v2/images/{image_id}")

    def clear(self) -> None:
        """Delete every image, of any visibility, hidden ones too, so a test starts from none."""
        # os_hidden images are left out of every listing that does not ask for them.
        for hidden in ("false", "true"):
            for image in self.images(visibility="all", os_hidden=hidden):
                self.delete(image["id"])


def _wait_until_ready(server: GlanceProcess, url: str, timeout: float) -> None:
    # /healthcheck answers once the whole paste app (and so the API) loaded.
    opener = urllib.request.build_opener()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not server.alive():
            raise StoreError(f"uwsgi exited early:\n{server.log_tail()}")
        try:
            if http(opener, "GET", f"{url}/healthcheck", timeout=2.0).status == 200:
                return
        except OSError:
            pass  # not listening yet
        time.sleep(0.05)
    server.stop()
    raise StoreError(f"Glance not ready after {timeout:.0f} s:\n{server.log_tail()}")


def start_glance(directory: Path, timeout: float = 60.0, attempts: int = 3) -> Glance:
    """Start Glance on 127.0.0.1 (a free port) with all its state in ``directory``.

    Raises NotInstalledError (message: INSTALL_HINT) when the Glance venv is
    missing, StoreError with the server log when it does not come up.
    """
    venv = _checked_venv(glance_venv())
    for attempt in range(1, attempts + 1):
        home = directory / f"run-{attempt}"  # fresh state on each try
        start = time.monotonic()
        port = free_port()
        ini = write_glance_config(home, port, venv)
        _init_database(venv, home, timeout)
        argv = [str(venv / "bin" / "uwsgi"), "--ini", str(ini)]
        server = GlanceProcess(argv, home / "uwsgi.log", home, _glance_env(home))
        url = f"http://{LOOPBACK}:{port}"
        try:
            _wait_until_ready(server, url, timeout)
        except StoreError:
            server.stop()
            if attempt == attempts:
                raise
            continue  # most likely the port was taken in between: another one
        return Glance(url, server, home, time.monotonic() - start)
    raise AssertionError("unreachable")


@pytest.fixture(scope="session", name="glance")
def glance_fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Glance]:
    """One Glance for the session, on 127.0.0.1; stopped by PID at the end.

    Fails, never skips, when the Glance venv is missing: INSTALL_HINT says how.
    """
    try:
        server = start_glance(tmp_path_factory.mktemp("glance"))
    except NotInstalledError as error:
        message = str(error)
    else:
        try:
            yield server
        finally:
            server.stop()
        return
    # Outside the except block, so the report is the message alone.
    pytest.fail(message, pytrace=False)

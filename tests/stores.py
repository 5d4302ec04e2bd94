"""Real triple stores for integration tests: Oxigraph and Virtuoso 7 on loopback.

Each store runs as a child process listening on 127.0.0.1 only, on a free
port, with its data in a private directory, and is stopped by its PID
(``stop()``). Only the standard library is used, so the helpers need nothing
beyond the interpreter and the store binaries.

Facts the helpers rely on (tests/test_stores.py checks these and more):

* Virtuoso caps every SELECT over HTTP at ``ResultSetMaxRows`` rows with a
  200 and only an ``X-SPARQL-MaxRows`` header; Oxigraph has no cap.
* Both refuse long GET requests (Oxigraph: headers over 8 KB; Virtuoso: URLs
  over about 10 KB), so queries are POSTed as a form.
* Virtuoso hangs on a POST with ``Content-Type: application/sparql-query``,
  so that form of the protocol is never used here.
"""

from __future__ import annotations

import atexit
import hashlib
import json
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

__all__ = [
    "JSON_RESULTS",
    "IsqlError",
    "NotInstalledError",
    "Oxigraph",
    "Response",
    "ServerProcess",
    "SparqlError",
    "StoreError",
    "Virtuoso",
    "free_port",
    "start_oxigraph",
    "start_virtuoso",
    "write_virtuoso_ini",
]

LOOPBACK = "127.0.0.1"
JSON_RESULTS = "application/sparql-results+json"
FORM = "application/x-www-form-urlencoded"
QUAD_TYPES = frozenset({"application/n-quads", "application/trig"})

# One SPARQL JSON binding: variable -> {"type": ..., "value": ..., ...}.
Binding = dict[str, dict[str, str]]


class StoreError(RuntimeError):
    """A store could not be started, or answered with an error."""


class NotInstalledError(StoreError):
    """The store's binary is missing; the message says how to install it."""


class SparqlError(StoreError):
    """An HTTP request to a store failed; keeps the status and the body."""

    def __init__(self, method: str, url: str, status: int, body: str) -> None:
        super().__init__(f"{method} {url} -> HTTP {status}: {body[:2000]}")
        self.status = status
        self.body = body


class IsqlError(StoreError):
    """isql-vt reported an error (it exits 0 on SQL errors: stderr tells)."""


@dataclass(frozen=True)
class Response:
    """An HTTP answer, error statuses included; header names are lower case."""

    status: int
    headers: dict[str, str]
    body: bytes

    def text(self) -> str:
        """The body decoded as UTF-8."""
        return self.body.decode("utf-8")

    def json(self) -> Any:
        """The body parsed as JSON."""
        return json.loads(self.body)


def free_port() -> int:
    """A TCP port that is free on 127.0.0.1 right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        port: int = sock.getsockname()[1]
        return port


def http(
    opener: urllib.request.OpenerDirector,
    method: str,
    url: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 60.0,
) -> Response:
    """One request; an HTTP error status is returned, not raised."""
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with opener.open(request, timeout=timeout) as answer:
            return Response(answer.status, _lower(answer.headers.items()), answer.read())
    except urllib.error.HTTPError as error:
        return Response(error.code, _lower(error.headers.items()), error.read())


def _lower(items: Any) -> dict[str, str]:
    return {str(name).lower(): str(value) for name, value in items}


def _checked(method: str, url: str, response: Response) -> Response:
    if response.status >= 400:
        raise SparqlError(method, url, response.status, response.body.decode("utf-8", "replace"))
    return response


def _form(**fields: str) -> bytes:
    return urllib.parse.urlencode(fields).encode("ascii")


class ServerProcess:
    """A store's child process, its output in a log file, stopped by PID."""

    def __init__(
        self, argv: list[str], log_path: Path, cwd: Path, env: dict[str, str] | None = None
    ) -> None:
        self.argv = argv
        self.log_path = log_path
        with log_path.open("wb") as log:
            # A session of its own: a Ctrl-C in the terminal reaches pytest,
            # whose finalizer then stops the server, not the server directly.
            self.popen = subprocess.Popen(
                argv,
                cwd=cwd,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        # Safety net for a test run that dies before its fixtures finalize.
        atexit.register(self.stop)

    @property
    def pid(self) -> int:
        """The server's process id."""
        return self.popen.pid

    def alive(self) -> bool:
        """Whether the process is still running."""
        return self.popen.poll() is None

    def log_tail(self, lines: int = 40) -> str:
        """The last lines the server wrote, for error messages."""
        text = self.log_path.read_text("utf-8", "replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM to this PID, SIGKILL if it has not exited within ``timeout``."""
        if not self.alive():
            return
        self.popen.terminate()
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait(timeout)


def wait_until_ready(server: ServerProcess, url: str, timeout: float) -> float:
    """Poll ``url`` until it answers 200; return the seconds it took.

    Raises StoreError with the server's log if it exits or is not ready in time.
    """
    start = time.monotonic()
    opener = urllib.request.build_opener()
    while time.monotonic() - start < timeout:
        if not server.alive():
            raise StoreError(f"{server.argv[0]} exited early:\n{server.log_tail()}")
        try:
            if http(opener, "GET", url, timeout=2.0).status == 200:
                return time.monotonic() - start
        except OSError:
            pass  # not listening yet
        time.sleep(0.05)
    server.stop()
    raise StoreError(f"{server.argv[0]} not ready after {timeout:.0f} s:\n{server.log_tail()}")


def _wait_for_port(port: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((LOOPBACK, port), timeout=1.0):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


@dataclass
class _SparqlStore:
    """What both stores share: POSTed queries with JSON results."""

    base: str
    process: ServerProcess
    started_in_s: float
    opener: urllib.request.OpenerDirector = field(
        default_factory=urllib.request.build_opener, repr=False
    )

    #: The path of the store's SPARQL query endpoint.
    query_path: ClassVar[str] = "/sparql"

    @property
    def query_url(self) -> str:
        """The SPARQL query endpoint."""
        return f"{self.base}{self.query_path}"

    @property
    def pid(self) -> int:
        """The server's process id."""
        return self.process.pid

    def query(self, query: str, accept: str = JSON_RESULTS, timeout: float = 60.0) -> Response:
        """POST ``query=`` as a form (GET fails past ~8-10 KB); errors raise SparqlError."""
        response = http(
            self.opener,
            "POST",
            self.query_url,
            _form(query=query),
            {"Content-Type": FORM, "Accept": accept},
            timeout,
        )
        return _checked("POST", self.query_url, response)

    def select(self, query: str) -> list[Binding]:
        """The JSON bindings of a SELECT, as the store sent them."""
        bindings: list[Binding] = self.query(query).json()["results"]["bindings"]
        return bindings

    def ask(self, query: str) -> bool:
        """The answer of an ASK query."""
        return bool(self.query(query).json()["boolean"])

    def count(self, graph: str) -> int:
        """How many triples the named graph holds."""
        rows = self.select(f"SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH <{graph}> {{ ?s ?p ?o }} }}")
        return int(rows[0]["n"]["value"])

    def stop(self) -> None:
        """Stop the server by its PID."""
        self.process.stop()


@dataclass
class Oxigraph(_SparqlStore):
    """A running ``oxigraph serve`` with its SPARQL and Graph Store endpoints."""

    location: Path = Path()

    query_path: ClassVar[str] = "/query"

    @property
    def update_url(self) -> str:
        """SPARQL Update endpoint (form ``update=`` or application/sparql-update)."""
        return f"{self.base}/update"

    @property
    def store_url(self) -> str:
        """Graph Store Protocol endpoint: ``?graph=IRI``, ``?default`` or the dataset."""
        return f"{self.base}/store"

    def update(self, update: str) -> None:
        """Run a SPARQL Update; errors raise SparqlError."""
        headers = {"Content-Type": "application/sparql-update"}
        response = http(self.opener, "POST", self.update_url, update.encode("utf-8"), headers)
        _checked("POST", self.update_url, response)

    def graph_url(self, graph: str | None) -> str:
        """The GSP URL of a named graph, or of the default graph for None."""
        if graph is None:
            return f"{self.store_url}?default"
        return f"{self.store_url}?{urllib.parse.urlencode({'graph': graph})}"

    def load(
        self,
        data: str | bytes,
        content_type: str = "text/turtle",
        graph: str | None = None,
        replace: bool = False,
    ) -> None:
        """Add RDF through the Graph Store Protocol (POST; PUT when ``replace``).

        ``graph`` None means the default graph, or for N-Quads/TriG the
        graphs the quads name.
        """
        quads = content_type in QUAD_TYPES and graph is None
        url = self.store_url if quads else self.graph_url(graph)
        body = data.encode("utf-8") if isinstance(data, str) else data
        method = "PUT" if replace else "POST"
        response = http(self.opener, method, url, body, {"Content-Type": content_type})
        _checked(method, url, response)

    def dump(self, graph: str | None = None, accept: str = "application/n-triples") -> str:
        """A graph serialized by the store (GSP GET); 404 raises SparqlError."""
        url = self.graph_url(graph)
        return _checked("GET", url, http(self.opener, "GET", url, None, {"Accept": accept})).text()

    def clear(self) -> None:
        """Empty the store: the default graph and every named graph."""
        self.update("DROP ALL")


def _oxigraph_binary() -> str:
    # The venv's own binary first: pytest may run without the venv on PATH.
    beside = Path(sys.executable).with_name("oxigraph")
    found = str(beside) if beside.exists() else shutil.which("oxigraph")
    if found is None:
        raise NotInstalledError("oxigraph binary not found: pip install oxigraph")
    return found


def start_oxigraph(location: Path, timeout: float = 30.0, attempts: int = 3) -> Oxigraph:
    """Start ``oxigraph serve`` on 127.0.0.1 with its data in ``location``."""
    binary = _oxigraph_binary()
    location.mkdir(parents=True, exist_ok=True)
    for attempt in range(1, attempts + 1):
        port = free_port()
        argv = [binary, "serve", "--location", str(location / "db"), "--bind", f"{LOOPBACK}:{port}"]
        server = ServerProcess(argv, location / "oxigraph.log", location)
        base = f"http://{LOOPBACK}:{port}"
        try:
            seconds = wait_until_ready(server, f"{base}/query?query=ASK%7B%7D", timeout)
        except StoreError:
            if attempt == attempts:
                raise
            continue  # most likely the port was taken in between: another one
        return Oxigraph(base=base, process=server, started_in_s=seconds, location=location)
    raise AssertionError("unreachable")


# Paths all in the private directory; only the few settings tests care about
# differ from Debian's /etc/virtuoso-opensource-7/virtuoso.ini. There is no
# VADInstallDir on purpose: with it the first start installs the Conductor
# VAD, which takes about 4.5 s more and is of no use to tests.
VIRTUOSO_INI = """\
[Database]
DatabaseFile       = {dir}/virtuoso.db
ErrorLogFile       = {dir}/virtuoso.log
LockFile           = {dir}/virtuoso.lck
TransactionFile    = {dir}/virtuoso.trx
xa_persistent_file = {dir}/virtuoso.pxa
ErrorLogLevel      = 7
FileExtend         = 200
MaxCheckpointRemap = 2000
Striping           = 0
TempStorage        = TempDatabase

[TempDatabase]
DatabaseFile       = {dir}/virtuoso-temp.db
TransactionFile    = {dir}/virtuoso-temp.trx
MaxCheckpointRemap = 2000
Striping           = 0

[Parameters]
ServerPort               = 127.0.0.1:{sql_port}
DisableUnixSocket        = 1
DisableTcpSocket         = 0
MaxClientConnections     = 10
CheckpointInterval       = 60
O_DIRECT                 = 0
CaseMode                 = 2
MaxStaticCursorRows      = 5000
CheckpointAuditTrail     = 0
AllowOSCalls             = 0
SchedulerInterval        = 10
DirsAllowed              = ., {dir}
ThreadCleanupInterval    = 0
ThreadThreshold          = 10
ResourcesCleanupInterval = 0
FreeTextBatchSize        = 100000
SingleCPU                = 0
PrefixResultNames        = 0
RdfFreeTextRulesSize     = 100
IndexTreeMaps            = 64
MaxMemPoolSize           = 200000000
MaxQueryMem              = 1G
VectorSize               = 1000
MaxVectorSize            = 1000000
AdjustVectorSize         = 0
ThreadsPerQuery          = 2
AsyncQueueMaxThreads     = 10
NumberOfBuffers          = {buffers}
MaxDirtyBuffers          = {dirty_buffers}
{max_sorted_top_rows}
[HTTPServer]
ServerPort                  = 127.0.0.1:{http_port}
ServerRoot                  = {dir}/vsp
MaxClientConnections        = 10
DavRoot                     = DAV
EnabledDavVSP               = 0
HTTPProxyEnabled            = 0
TempASPXDir                 = 0
ServerThreads               = 10
MaxKeepAlives               = 10
KeepAliveTimeout            = 10
HTTPThreadSize              = 280000
HttpPrintWarningsInOutput   = 0
Charset                     = UTF-8
EnabledGzipContent          = 0

[Client]
SQL_PREFETCH_ROWS  = 100
SQL_PREFETCH_BYTES = 16000
SQL_QUERY_TIMEOUT  = 0
SQL_TXN_TIMEOUT    = 0

[SPARQL]
ResultSetMaxRows           = {max_rows}
MaxQueryCostEstimationTime = 400
MaxQueryExecutionTime      = 60
DeferInferenceRulesInit    = 0
"""


def write_virtuoso_ini(
    directory: Path,
    sql_port: int,
    http_port: int,
    result_set_max_rows: int = 10000,
    max_sorted_top_rows: int | None = None,
    buffers: int = 5000,
) -> Path:
    """Write a private virtuoso.ini: data, log and lock files all in ``directory``.

    ``max_sorted_top_rows`` None keeps Virtuoso's default of 10000 (the limit
    behind error SR353 on ORDER BY ... LIMIT/OFFSET). ``buffers`` are 8 KB
    pages of cache: 5000 is 40 MB, plenty for test data.
    """
    (directory / "vsp").mkdir(parents=True, exist_ok=True)
    sorted_top = "" if max_sorted_top_rows is None else f"MaxSortedTopRows = {max_sorted_top_rows}"
    text = VIRTUOSO_INI.format(
        dir=directory,
        sql_port=sql_port,
        http_port=http_port,
        max_rows=result_set_max_rows,
        max_sorted_top_rows=sorted_top,
        buffers=buffers,
        dirty_buffers=buffers * 3 // 5,
    )
    path = directory / "virtuoso.ini"
    path.write_text(text, "utf-8")
    return path


def sql_string(value: str) -> str:
    """A Virtuoso SQL string literal (quotes doubled, backslashes escaped)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "''") + "'"


def digest_authorization(authenticate: str, method: str, url: str, user: str, password: str) -> str:
    """The ``Authorization`` value answering an RFC 2617 ``Digest`` challenge (MD5, qop=auth)."""
    fields = urllib.request.parse_keqv_list(
        urllib.request.parse_http_list(authenticate.removeprefix("Digest "))
    )
    parts = urllib.parse.urlsplit(url)
    uri = parts.path + (f"?{parts.query}" if parts.query else "")
    realm, nonce, cnonce, count = fields["realm"], fields["nonce"], secrets.token_hex(8), "00000001"
    ha1 = _md5(f"{user}:{realm}:{password}")
    ha2 = _md5(f"{method}:{uri}")
    answer = _md5(f"{ha1}:{nonce}:{count}:{cnonce}:auth:{ha2}")
    header = (
        f'Digest username="{user}", realm="{realm}", nonce="{nonce}", uri="{uri}", '
        f'response="{answer}", qop=auth, nc={count}, cnonce="{cnonce}", algorithm=MD5'
    )
    if "opaque" in fields:
        header += f', opaque="{fields["opaque"]}"'
    return header


def _md5(text: str) -> str:
    return hashlib.md5(text.encode("utf-8")).hexdigest()


@dataclass
class Virtuoso(_SparqlStore):
    """A running ``virtuoso-t`` with a fresh database in ``directory``."""

    directory: Path = Path()
    ini_path: Path = Path()
    sql_port: int = 0
    http_port: int = 0
    user: str = "dba"
    password: str = "dba"
    isql_binary: str = "isql-vt"
    _loads: int = field(default=0, repr=False)

    @property
    def sparql_url(self) -> str:
        """The anonymous, read-only SPARQL endpoint."""
        return f"{self.base}/sparql"

    @property
    def auth_url(self) -> str:
        """SPARQL endpoint with digest auth, where dba may run updates."""
        return f"{self.base}/sparql-auth"

    @property
    def gsp_url(self) -> str:
        """Graph Store endpoint with digest auth (``?graph-uri=IRI``)."""
        return f"{self.base}/sparql-graph-crud-auth"

    def auth_request(
        self,
        method: str,
        url: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
        timeout: float = 120.0,
    ) -> Response:
        """A request with digest auth as ``user``; error statuses are returned.

        urllib's HTTPDigestAuthHandler sends the body unauthenticated first,
        and Virtuoso answers 401 with ``Connection: close`` without reading
        it: a PUT of 1.5 MB then failed with a broken pipe 15 times in 20. So
        the challenge is fetched by a body-less GET and the real request is
        sent once, already signed.
        """
        challenge = http(self.opener, "GET", url, timeout=timeout)
        authenticate = challenge.headers.get("www-authenticate", "")
        if challenge.status != 401 or not authenticate.startswith("Digest "):
            raise StoreError(f"GET {url}: expected a digest challenge, got {challenge.status}")
        signed = dict(headers or {})
        signed["Authorization"] = digest_authorization(
            authenticate, method, url, self.user, self.password
        )
        return http(self.opener, method, url, body, signed, timeout)

    def isql(self, sql: str, timeout: float = 120.0) -> str:
        """Run SQL statements (``;``-terminated) with isql-vt as dba; return the output.

        Raises IsqlError on the first error. The SQL goes through stdin, as
        isql-vt URL-decodes an ``exec=`` argument (``+`` becomes a space) and
        expands ``$word`` macros unless MACRO_SUBSTITUTION is off.
        """
        argv = [
            self.isql_binary,
            f"{LOOPBACK}:{self.sql_port}",
            self.user,
            self.password,
            "VERBOSE=OFF",
            "BANNER=OFF",
            "PROMPT=OFF",
            "MACRO_SUBSTITUTION=OFF",
        ]
        script = sql if sql.rstrip().endswith(";") else sql + ";"
        done = subprocess.run(
            argv, input=script + "\n", capture_output=True, text=True, timeout=timeout, check=False
        )
        # isql-vt exits 0 after a failing statement (and runs the next ones);
        # the error is on stderr.
        if done.returncode != 0 or "*** Error" in done.stderr:
            raise IsqlError(f"isql {sql[:300]!r} failed:\n{done.stderr.strip()}")
        return done.stdout

    def update(self, update: str, timeout: float = 120.0) -> str:
        """Run a SPARQL Update through /sparql-auth; return Virtuoso's message."""
        headers = {"Content-Type": FORM, "Accept": JSON_RESULTS}
        response = self.auth_request("POST", self.auth_url, _form(update=update), headers, timeout)
        bindings = _checked("POST", self.auth_url, response).json()["results"]["bindings"]
        return "\n".join(value["value"] for row in bindings for value in row.values())

    def load_turtle(self, text: str, graph: str) -> None:
        """Add Turtle (or N-Triples) to ``graph``: file + ``DB.DBA.TTLP_MT``.

        The file goes in the private directory, which DirsAllowed lists;
        30,000 triples take about 0.3 s.
        """
        self._loads += 1
        path = self.directory / "loads" / f"load-{self._loads}.ttl"
        path.parent.mkdir(exist_ok=True)
        path.write_text(text, "utf-8")
        self.isql(
            "DB.DBA.TTLP_MT(file_to_string_output("
            f"{sql_string(str(path))}), {sql_string(graph)}, {sql_string(graph)}, 0)"
        )

    def put_graph(self, data: str | bytes, graph: str, content_type: str = "text/turtle") -> None:
        """Replace ``graph`` through the Graph Store endpoint (PUT, digest auth)."""
        url = f"{self.gsp_url}?{urllib.parse.urlencode({'graph-uri': graph})}"
        body = data.encode("utf-8") if isinstance(data, str) else data
        _checked("PUT", url, self.auth_request("PUT", url, body, {"Content-Type": content_type}))

    def drop_graph(self, graph: str) -> None:
        """Remove every triple of ``graph`` (no error if it has none)."""
        self.update(f"DROP SILENT GRAPH <{graph}>")


def _two_free_ports() -> tuple[int, int]:
    first = free_port()
    second = free_port()
    while second == first:  # the OS may hand the same free port out twice
        second = free_port()
    return first, second


def _virtuoso_binaries() -> tuple[str, str]:
    server, isql = shutil.which("virtuoso-t"), shutil.which("isql-vt")
    if server is None or isql is None:
        raise NotInstalledError(
            "virtuoso-t / isql-vt not found: apt-get install virtuoso-opensource"
        )
    return server, isql


def start_virtuoso(
    directory: Path,
    timeout: float = 90.0,
    attempts: int = 3,
    result_set_max_rows: int = 10000,
    max_sorted_top_rows: int | None = None,
) -> Virtuoso:
    """Start ``virtuoso-t`` on 127.0.0.1 with a fresh database under ``directory``.

    Ready once /sparql answers and the SQL port accepts connections.
    """
    server_binary, isql_binary = _virtuoso_binaries()
    for attempt in range(1, attempts + 1):
        home = directory / f"run-{attempt}"  # a fresh database on each try
        home.mkdir(parents=True, exist_ok=True)
        sql_port, http_port = _two_free_ports()
        ini = write_virtuoso_ini(
            home, sql_port, http_port, result_set_max_rows, max_sorted_top_rows
        )
        start = time.monotonic()
        # -f: stay in the foreground, so the PID is the server's.
        server = ServerProcess([server_binary, "-f", "-c", str(ini)], home / "stdout.log", home)
        base = f"http://{LOOPBACK}:{http_port}"
        try:
            wait_until_ready(server, f"{base}/sparql?query=ASK%7B%7D", timeout)
            _wait_for_port(sql_port, timeout)
        except (StoreError, OSError):
            server.stop()
            if attempt == attempts:
                raise
            continue  # most likely a port was taken in between: other ones
        return Virtuoso(
            base=base,
            process=server,
            started_in_s=time.monotonic() - start,
            directory=home,
            ini_path=ini,
            sql_port=sql_port,
            http_port=http_port,
            isql_binary=isql_binary,
        )
    raise AssertionError("unreachable")

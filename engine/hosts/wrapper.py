"""The forced command of the storage host's SSH key, and the authorized_keys line that forces it.

The engine drives a ZFS storage host over SSH with a key that may do only what
the engine itself does: list, create, resize, snapshot, clone, promote and
destroy volumes under one base dataset, and export them over iSCSI with
``tgtadm``. sshd cannot express that, so the key's ``authorized_keys`` line
forces a wrapper program (``command="..."``) that reads the client's command
line from ``SSH_ORIGINAL_COMMAND``, matches it word by word against the exact
shapes the engine issues, and executes the tool with ``os.execve`` on an
absolute path. The line never reaches a shell, so there is no quoting to get
right: a line with any shell metacharacter is refused before it is even split.

A line of the right shape may still reach past the pool: tgt's target ids
are the whole host's, and a dataset under the base may be another spec's.
So before it acts the wrapper asks the host (``tgtadm --op show``, ``zfs
get``) and allows only what the engine's plan can ask: a target only if its
IQN starts with the pool's prefix and all its backing stores are volumes
under the base that this spec made; a volume destroyed, promoted,
snapshotted, grown or exported only if this spec made it (the ZFS user
property ``org.specengine:spec`` set on it, not inherited); a size only
larger than the current one; the owner only this spec's name, and only at
creation.

``wrapper_script`` returns the wrapper's text for one pool's ``KeyScope``: the
program engine/hosts/wrapper_program.py (standalone, the standard library
only, since Debian storage hosts have python3 but not the engine) with the
pool's values written into it; ``authorized_keys_line`` returns the line that
installs the key. The scope's name patterns come from the spec
language (schemas/volume_pool.py) through the volume-pool kind: this module
imports nothing of schemas.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
from dataclasses import dataclass
from importlib import resources

__all__ = [
    "BUSY_EXIT",
    "DEFAULT_LOCK_DIR",
    "DEFAULT_TGTADM",
    "DEFAULT_TGT_CONF_DIR",
    "DEFAULT_ZFS",
    "LIST_COLUMNS",
    "OWNER_PROPERTY",
    "OWNER_QUERY",
    "REFUSED_EXIT",
    "SHOW_QUERY",
    "VOLSIZE_QUERY",
    "WRAPPER_PATH",
    "KeyScope",
    "authorized_keys_line",
    "wrapper_script",
]

#: Where the storage host's playbook installs the wrapper.
WRAPPER_PATH = "/usr/local/sbin/specengine-zfs-wrapper"
#: Where Debian's zfsutils-linux and tgt put the tools.
DEFAULT_ZFS = "/usr/sbin/zfs"
DEFAULT_TGTADM = "/usr/sbin/tgtadm"
#: The wrapper's exit status for a refused line: the shell's "found but cannot execute".
REFUSED_EXIT = 126
#: Its exit status when another run holds the pool's lock (EX_TEMPFAIL).
BUSY_EXIT = 75
#: Where Debian's tgt reads one file per target (targets.conf includes conf.d/*.conf).
DEFAULT_TGT_CONF_DIR = "/etc/tgt/conf.d"
DEFAULT_LOCK_DIR = "/run/lock"
#: The ZFS user property naming the spec that made a volume or snapshot.
OWNER_PROPERTY = "org.specengine:spec"
#: The columns of the engine's one listing of the pool.
LIST_COLUMNS = f"name,type,volsize,used,available,origin,{OWNER_PROPERTY}"
#: What the wrapper asks the host before it acts (the words after the tool;
#: zfs's end with the dataset): who made a dataset or snapshot (set there,
#: not inherited), a volume's size in bytes, and tgtd's targets.
OWNER_QUERY = ("get", "-H", "-p", "-o", "value", "-s", "local", OWNER_PROPERTY)
VOLSIZE_QUERY = ("get", "-H", "-p", "-o", "value", "volsize")
SHOW_QUERY = ("--lld", "iscsi", "--mode", "target", "--op", "show")

# Paths and the scope's words end up inside command="..." and so in the
# login shell's -c string: only characters that no shell treats specially.
_PATH = re.compile(r"/[A-Za-z0-9_./-]*")
_WORD = re.compile(r"[A-Za-z0-9_.:/-]+")
_KEY_TYPES = frozenset(
    {
        "ssh-ed25519",
        "sk-ssh-ed25519@openssh.com",
        "ecdsa-sha2-nistp256",
        "ecdsa-sha2-nistp384",
        "ecdsa-sha2-nistp521",
        "sk-ecdsa-sha2-nistp256@openssh.com",
        "ssh-rsa",
    }
)
_COMMENT = re.compile(r"[A-Za-z0-9_.@:+=/-]{1,128}")

# The wrapper itself is a program of its own, wrapper_program.py, kept free of the engine: the
# storage host runs it with its own python3. Its pool's values sit between these two lines,
# which wrapper_script rewrites with repr() of values validated beforehand, so nothing outside
# the program's text becomes code.
_PROGRAM = "wrapper_program.py"
_BEGIN = "# >>> pool"
_END = "# <<< pool"


@dataclass(frozen=True)
class KeyScope:
    """What one volume pool's restricted key may act on, and the names it may use.

    ``base`` is the dataset holding the pool's volumes (``POOL/DATASET``, more
    components allowed), ``spec`` the name of the spec that owns them (the
    value of ``org.specengine:spec`` on what it makes), ``iqn_prefix`` the
    start of its targets' IQNs (a target's IQN is the prefix and the volume's
    name). ``name_pattern`` (one component of a ZFS name), ``iqn_pattern`` and
    ``iqn_max_length`` are the spec language's (schemas/volume_pool.py), so
    the host accepts exactly the names a spec validates. Raises
    ``ValueError`` for a malformed value.
    """

    base: str
    spec: str
    iqn_prefix: str
    name_pattern: str
    iqn_pattern: str
    iqn_max_length: int

    def __post_init__(self) -> None:
        for what, pattern in (
            ("name_pattern", self.name_pattern),
            ("iqn_pattern", self.iqn_pattern),
        ):
            try:
                re.compile(pattern)
            except re.error as error:
                raise ValueError(f"{what} {pattern!r}: {error}") from None
        # At least POOL/BASE: the engine never works at the root of a pool,
        # where destroying "POOL/NAME" could hit datasets it did not make.
        parts = self.base.split("/")
        if len(parts) < 2:
            raise ValueError(f"base {self.base!r} must be POOL/DATASET, not a whole pool")
        for part in parts:
            self._name(part, f"base {self.base!r}")
        if re.fullmatch(self.name_pattern, self.spec) is None:
            raise ValueError(f"spec {self.spec!r} is not a spec name ({self.name_pattern})")
        # The prefix and a volume name (up to 64 characters) make an IQN.
        longest = len(self.iqn_prefix) + 64
        if re.fullmatch(self.iqn_pattern, self.iqn_prefix + "v") is None:
            raise ValueError(f"iqn_prefix {self.iqn_prefix!r} does not start an IQN")
        if longest > self.iqn_max_length:
            raise ValueError(
                f"iqn_prefix {self.iqn_prefix!r}: with a volume name its IQNs may reach"
                f" {longest} characters, more than {self.iqn_max_length}"
            )
        # Whatever the patterns allow, these words go into the login shell's
        # command line (authorized_keys command=): plain characters only.
        for what, word in (
            ("base", self.base),
            ("spec", self.spec),
            ("iqn_prefix", self.iqn_prefix),
        ):
            if _WORD.fullmatch(word) is None:
                raise ValueError(f"{what} {word!r} has characters outside [A-Za-z0-9_.:/-]")

    def _name(self, name: str, what: str) -> None:
        if re.fullmatch(self.name_pattern, name) is None or ".." in name:
            raise ValueError(f"{what}: {name!r} is not a plain ZFS name ({self.name_pattern})")

    def arguments(self) -> list[str]:
        """The wrapper's arguments: in its ``authorized_keys`` line and checked by the wrapper."""
        return ["--base", self.base, "--spec", self.spec, "--iqn-prefix", self.iqn_prefix]


def _check_path(path: str, what: str) -> None:
    if _PATH.fullmatch(path) is None or "/../" in path + "/" or "//" in path:
        raise ValueError(f"{what} {path!r} must be an absolute path of [A-Za-z0-9_./-]")


def wrapper_script(
    scope: KeyScope,
    zfs: str = DEFAULT_ZFS,
    tgtadm: str = DEFAULT_TGTADM,
    conf_dir: str = DEFAULT_TGT_CONF_DIR,
    lock_dir: str = DEFAULT_LOCK_DIR,
) -> str:
    """The text of the wrapper program that allows the engine's commands in one pool's ``scope``.

    ``zfs`` and ``tgtadm`` are the absolute paths the wrapper executes (tests
    point them at recorders); ``conf_dir`` receives one tgt configuration
    file per export and ``lock_dir`` the pool's lock file. Raises
    ``ValueError`` for a malformed argument.
    """
    _check_path(zfs, "zfs")
    _check_path(tgtadm, "tgtadm")
    _check_path(conf_dir, "conf_dir")
    _check_path(lock_dir, "lock_dir")
    values: dict[str, object] = {
        "BASE": scope.base,
        "SPEC_NAME": scope.spec,
        "IQN_PREFIX": scope.iqn_prefix,
        "ARGUMENTS": scope.arguments(),
        "ZFS": zfs,
        "TGTADM": tgtadm,
        "REFUSED": REFUSED_EXIT,
        "BUSY": BUSY_EXIT,
        "TGT_CONF_DIR": conf_dir,
        "LOCK_DIR": lock_dir,
        "LIST_COLUMNS": LIST_COLUMNS,
        "OWNER": OWNER_PROPERTY,
        "OWNER_QUERY": list(OWNER_QUERY),
        "VOLSIZE_QUERY": list(VOLSIZE_QUERY),
        "SHOW_QUERY": list(SHOW_QUERY),
        "NAME_PATTERN": scope.name_pattern,
        "IQN_PATTERN": scope.iqn_pattern,
        "IQN_MAX": scope.iqn_max_length,
    }
    lines = (
        (resources.files("engine.hosts") / _PROGRAM).read_text(encoding="utf-8").splitlines(True)
    )
    begins = [n for n, line in enumerate(lines) if line.startswith(_BEGIN)]
    ends = [n for n, line in enumerate(lines) if line.rstrip("\n") == _END]
    if len(begins) != 1 or len(ends) != 1 or ends[0] < begins[0]:
        raise RuntimeError(f"{_PROGRAM}: no single block between {_BEGIN!r} and {_END!r}")
    block = lines[begins[0] + 1 : ends[0]]
    names = [line.partition(" = ")[0] for line in block]
    if names != list(values):
        raise RuntimeError(f"{_PROGRAM}: its pool block sets {names}, not {list(values)}")
    written = [f"{name} = {value!r}\n" for name, value in values.items()]
    return "".join([*lines[: begins[0] + 1], *written, *lines[ends[0] :]])


def _check_public_key(public_key: str) -> list[str]:
    words = public_key.split()
    if len(words) not in (2, 3):
        raise ValueError("public key must be 'TYPE BASE64 [COMMENT]' on one line")
    kind, blob = words[0], words[1]
    if kind not in _KEY_TYPES:
        raise ValueError(f"public key type {kind!r} is not one of {sorted(_KEY_TYPES)}")
    try:
        raw = base64.b64decode(blob, validate=True)
    except binascii.Error as error:
        raise ValueError(f"public key data is not base64: {error}") from None
    # The blob starts with its own type, length-prefixed: a pasted key whose
    # parts were mixed up is caught here rather than by a failing login.
    length = int.from_bytes(raw[:4], "big")
    if raw[4 : 4 + length] != kind.encode("ascii"):
        raise ValueError(f"public key data is not a {kind} key")
    if len(words) == 3 and _COMMENT.fullmatch(words[2]) is None:
        raise ValueError(
            f"public key comment {words[2]!r} has characters outside [A-Za-z0-9_.@:+=/-]"
        )
    return words


def _from_pattern(address: str) -> str:
    try:
        network = ipaddress.ip_network(address, strict=True)
    except ValueError as error:
        raise ValueError(f"from address {address!r}: {error}") from None
    if network.num_addresses == 1:
        return str(network.network_address)
    return str(network)


def authorized_keys_line(
    public_key: str, wrapper_path: str, scope: KeyScope, from_addresses: list[str]
) -> str:
    """The ``authorized_keys`` line that lets ``public_key`` run only the wrapper, only from ``from_addresses``.

    ``restrict`` turns off forwarding, ptys, X11, the agent and ~/.ssh/rc;
    ``command=`` makes sshd run the wrapper with the pool's ``scope`` whatever
    the client asked (the client's line is in ``SSH_ORIGINAL_COMMAND``);
    ``from=`` takes IP addresses or networks, not host names, so no DNS
    answer widens it. Raises ``ValueError`` for a malformed argument or an
    empty address list.
    """
    words = _check_public_key(public_key)
    _check_path(wrapper_path, "wrapper path")
    if not from_addresses:
        raise ValueError("from_addresses is empty: the key must be tied to the engine's addresses")
    patterns = ",".join(_from_pattern(address) for address in from_addresses)
    command = " ".join([wrapper_path, *scope.arguments()])
    options = f'from="{patterns}",restrict,command="{command}"'
    return " ".join([options, *words])

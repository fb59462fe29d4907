"""A byte-reproducible ext4 image from a declared file tree, built without root.

Why: the sample case commits a Linux disk image and its tests demand the same bytes from every
generation, on any machine, for any user. How: the tree is staged in a temporary folder and
packed by ``mke2fs -d``; a ``debugfs`` script then gives every inode its declared owner, mode
and four timestamps, which ``mke2fs`` cannot take from an unprivileged staging tree (owners) or
at all (change and birth times), and sets the superblock's times. A fixed configuration file,
UUID, directory hash seed, clock (``E2FSPROGS_FAKE_TIME``) and locale remove every other input
that varies between runs.

The layout is what ``mke2fs`` itself picks for a file system below 512 MiB (its "small" type):
1 KiB blocks, so the smallest journal is 1 MiB rather than the 4 MiB that 4 KiB blocks force.
"""

from __future__ import annotations

import math
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

__all__ = ["BLOCK", "Node", "Stamp", "Tree", "build", "tool"]

#: mke2fs.conf as e2fsprogs ships it, reduced to what an ext4 of this size uses.
MKE2FS_CONF = """[defaults]
\tbase_features = sparse_super,large_file,filetype,resize_inode,dir_index,ext_attr
\tdefault_mntopts = acl,user_xattr
\tenable_periodic_fsck = 0
\tblocksize = 4096
\tinode_size = 256
\tinode_ratio = 16384

[fs_types]
\text4 = {
\t\tfeatures = has_journal,extent,huge_file,flex_bg,metadata_csum,64bit,dir_nlink,extra_isize
\t}
\tsmall = {
\t\tblocksize = 1024
\t\tinode_ratio = 4096
\t}
"""
BLOCK = 1024  # the "small" type's block size
JOURNAL_BLOCKS = 1024  # the smallest journal mke2fs makes (1 MiB at 1 KiB blocks)
INODE_SIZE = 256


@dataclass(frozen=True, slots=True)
class Node:
    """One inode: a file (``data``), a directory (``data`` None) or a symlink (``link``);
    ``atime``/``ctime`` default to ``mtime``, ``crtime`` to the earlier of ctime and mtime."""

    path: str
    mtime: datetime
    data: bytes | None = None
    link: str = ""
    owner: str = "root"
    group: str = "root"
    mode: int = 0o644
    atime: datetime | None = None
    ctime: datetime | None = None
    crtime: datetime | None = None

    @property
    def kind(self) -> int:
        """The file type bits of ``st_mode``."""
        return 0o120000 if self.link else 0o040000 if self.data is None else 0o100000


class Tree:
    """Files by path; ``born`` is the time of nodes declared without one and of the parent
    folders that appear, root-owned 0755, when not declared."""

    def __init__(self, born: datetime) -> None:
        self.born = born
        self.nodes: dict[str, Node] = {}

    def add(self, path: str, data: bytes | str, **kw: object) -> None:
        """A regular file."""
        raw = data.encode() if isinstance(data, str) else data
        self.nodes[path] = Node(path, kw.pop("mtime", self.born), raw, **kw)  # type: ignore[arg-type]

    def dir(self, path: str, **kw: object) -> None:
        """A directory (0755 unless ``mode`` says otherwise)."""
        kw.setdefault("mode", 0o755)
        self.nodes[path] = Node(path, kw.pop("mtime", self.born), None, **kw)  # type: ignore[arg-type]

    def link(self, path: str, target: str, **kw: object) -> None:
        """A symbolic link to ``target``."""
        self.nodes[path] = Node(path, kw.pop("mtime", self.born), None, target, mode=0o777, **kw)  # type: ignore[arg-type]

    def all(self) -> list[Node]:
        """Every node, parents included, sorted by path."""
        for path in list(self.nodes):
            parent = os.path.dirname(path)
            while parent != "/" and parent not in self.nodes:
                self.nodes[parent] = Node(parent, self.born, mode=0o755)
                parent = os.path.dirname(parent)
        return [self.nodes[p] for p in sorted(self.nodes)]


@dataclass(frozen=True, slots=True)
class Stamp:
    """What makes an image unique besides its files: identities and the superblock's history."""

    fs_uuid: str
    hash_seed: str
    made: datetime  # mkfs time, last check, and the root folder's and lost+found's times
    mounted: datetime  # last mount
    mounts: int  # mounts since the last check
    clock: datetime  # the fake "now" mke2fs and debugfs run at


def tool(name: str) -> str:
    """Path of an e2fsprogs program, also where sbin is not on PATH."""
    found = shutil.which(name, path=os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"]))
    if not found:
        raise RuntimeError(
            f"{name} (e2fsprogs) is needed to build the SRV01 image: apt-get install e2fsprogs"
        )
    return found


def build(nodes: list[Node], img: Path, uids: dict[str, int], gids: dict[str, int], stamp: Stamp) -> None:
    """Pack ``nodes`` into ``img`` with mke2fs -d, then fix inodes and superblock with debugfs."""
    mke2fs, debugfs = tool("mke2fs"), tool("debugfs")
    inodes = math.ceil((len(nodes) + 64) / 128) * 128
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LC_ALL": "C",  # mke2fs sorts directory entries with the locale's collation
        "TZ": "UTC",
        "E2FSPROGS_FAKE_TIME": str(int(stamp.clock.timestamp())),
        "SOURCE_DATE_EPOCH": str(int(stamp.clock.timestamp())),
    }
    with tempfile.TemporaryDirectory(prefix="ext4-") as tmp:
        staging, conf, script = Path(tmp) / "root", Path(tmp) / "mke2fs.conf", Path(tmp) / "fixups.debugfs"
        staging.mkdir()
        _stage(nodes, staging)
        conf.write_text(MKE2FS_CONF)
        script.write_text(_fixups(nodes, uids, gids, stamp))
        img.unlink(missing_ok=True)
        size = _size_blocks(nodes, inodes) * BLOCK // 1024
        _run([mke2fs, "-q", "-F", "-t", "ext4", "-T", "small", "-b", str(BLOCK), "-I", str(INODE_SIZE),
              "-N", str(inodes), "-m", "5", "-M", "/", "-U", stamp.fs_uuid,
              "-E", f"hash_seed={stamp.hash_seed},root_owner=0:0,no_copy_xattrs",
              "-d", str(staging), str(img), f"{size}k"], env | {"MKE2FS_CONFIG": str(conf)})  # fmt: skip
        _run([debugfs, "-w", "-f", str(script), str(img)], env)


def _stage(nodes: list[Node], root: Path) -> None:
    """Write the tree under ``root``; times are set deepest first so children do not touch them."""
    for node in nodes:
        target = root / node.path.lstrip("/")
        if node.link:
            target.symlink_to(node.link)
        elif node.data is None:
            target.mkdir(parents=True, exist_ok=True)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(node.data)
    for node in sorted(nodes, key=lambda n: n.path.count("/"), reverse=True):
        atime = node.atime or node.mtime
        os.utime(root / node.path.lstrip("/"), ns=(_ns(atime), _ns(node.mtime)), follow_symlinks=False)


def _ns(t: datetime) -> int:
    return int(t.timestamp()) * 1_000_000_000 + t.microsecond * 1000


def _fixups(nodes: list[Node], uids: dict[str, int], gids: dict[str, int], stamp: Stamp) -> str:
    """debugfs commands giving each inode its owner, mode and atime/mtime/ctime/crtime to the
    nanosecond: what ``mke2fs -d`` copies from the staging tree (the invoking user, the host's
    change time, the fake clock) is replaced by the declared values."""
    root = Node("/", stamp.made, mode=0o755)
    found = Node("/lost+found", stamp.made, mode=0o700)
    cmds = []
    for node in (root, found, *nodes):
        values = {"uid": uids[node.owner], "gid": gids[node.group], "mode": f"0{node.kind | node.mode:o}"}
        times = {
            "atime": node.atime or node.mtime,
            "mtime": node.mtime,
            "ctime": node.ctime or node.mtime,
            "crtime": node.crtime or min(node.ctime or node.mtime, node.mtime),
        }
        for name, t in times.items():
            values[name] = f"@{int(t.timestamp())}"
            values[f"{name}_extra"] = (t.microsecond * 1000) << 2
        cmds.extend(f"set_inode_field {node.path} {k} {v}" for k, v in values.items())
    cmds += [
        f"set_super_value mkfs_time @{int(stamp.made.timestamp())}",
        f"set_super_value lastcheck @{int(stamp.made.timestamp())}",
        f"set_super_value mtime @{int(stamp.mounted.timestamp())}",
        f"set_super_value mnt_count {stamp.mounts}",
    ]
    return "\n".join(cmds) + "\n"


def _size_blocks(nodes: list[Node], inodes: int) -> int:
    """Blocks for the contents (a block per file and folder at least), the journal, the inode
    table, the group metadata and some slack, in whole 256 KiB."""
    data = sum(max(1, math.ceil(len(n.data or b"") / BLOCK)) for n in nodes)
    needed = (data + JOURNAL_BLOCKS + inodes * INODE_SIZE // BLOCK + 320) * 1.06
    return math.ceil(needed / 256) * 256


def _run(cmd: list[str], env: dict[str, str]) -> None:
    """Run an e2fsprogs command; debugfs reports failed commands on stderr but exits 0."""
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    errors = [ln for ln in done.stderr.splitlines() if ln.strip() and not ln.startswith("debugfs 1.")]
    if done.returncode or errors:
        raise RuntimeError(f"{Path(cmd[0]).name} failed ({done.returncode}): {' '.join(errors)[:2000]}")

"""The external variables signature-base and LOKI-style rules read, and their values per file.

``EXTERNALS`` (``filename``, ``filepath``, ``extension``, ``filetype``, ``owner``) are defined,
empty, at compile time and set for every file scanned: ``filename`` its name, ``filepath`` its
path (inside an image: the path there), ``extension`` its suffix, lowercase with the dot
(``.exe``, LOKI's form), ``filetype`` what its first bytes say (``EXE``, ``ELF``, ``MACH-O``,
``ZIP``, ``PDF``, ``RTF``, ``MDMP``, ``OLE``) or else its suffix (``VBS``, ``PHP``, ``JSP``,
``ASP``, ``BATCH``, ``Python``, ``PowerShell``) and ``owner`` the owning account of a loose file
(empty inside images).
"""

from __future__ import annotations

#: External variables defined for every rule file and set for every file scanned.
EXTERNALS = ("filename", "filepath", "extension", "filetype", "owner")
_FILETYPES = (
    (b"MZ", "EXE"),
    (b"\x7fELF", "ELF"),
    (b"\xca\xfe\xba\xbe", "MACH-O"),
    (b"\xcf\xfa\xed\xfe", "MACH-O"),
    (b"\xce\xfa\xed\xfe", "MACH-O"),
    (b"\xfe\xed\xfa\xce", "MACH-O"),
    (b"\xfe\xed\xfa\xcf", "MACH-O"),
    (b"PK\x03\x04", "ZIP"),
    (b"%PDF", "PDF"),
    (b"{\\rt", "RTF"),
    (b"MDMP", "MDMP"),
    (b"\xd0\xcf\x11\xe0", "OLE"),
)
_SUFFIX_TYPES = {
    ".vbs": "VBS", ".vbe": "VBS", ".php": "PHP", ".jsp": "JSP", ".asp": "ASP", ".aspx": "ASP",
    ".bat": "BATCH", ".cmd": "BATCH", ".py": "Python", ".ps1": "PowerShell", ".psm1": "PowerShell",
}  # fmt: skip


def _externals(path: str, head: bytes, owner: str) -> dict[str, str]:
    """The external variables' values for one file (see the module's documentation)."""
    name = path.replace("\\", "/").rsplit("/", 1)[-1]
    dot = name.rfind(".")
    extension = name[dot:].lower() if dot > 0 else ""
    filetype = next((kind for magic, kind in _FILETYPES if head.startswith(magic)), None)
    if filetype is None:
        filetype = _SUFFIX_TYPES.get(extension, "")
    return {"filename": name, "filepath": path, "extension": extension, "filetype": filetype, "owner": owner}


def _owner(uid: int) -> str:
    try:
        import pwd
    except ImportError:  # Windows: no account database here
        return ""
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)

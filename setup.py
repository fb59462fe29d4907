"""The one compiled piece: the TCP/UDP checksum of captured packets (parsers/network/_checksum.c).

Optional: without a C compiler the install goes on and the capture parser uses its Python
checksum (same results, slower). Everything else is in pyproject.toml."""

from setuptools import Extension, setup

CHECKSUM = Extension(
    "parsers.network._checksum", ["parsers/network/_checksum.c"], optional=True, extra_compile_args=["-O3"]
)

setup(ext_modules=[CHECKSUM])

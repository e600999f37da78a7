"""The Lambda runtime the zips are for; everything about its Python follows from RUNTIME."""

RUNTIME = "python3.12"
RUNTIME_VERSION = RUNTIME.removeprefix("python")  # "3.12"
# The interpreter's sys.implementation.cache_tag, in the bytecode files' names.
BYTECODE_TAG = "cpython-" + RUNTIME_VERSION.replace(".", "")  # "cpython-312"
ARCHITECTURES = ("x86_64", "arm64")

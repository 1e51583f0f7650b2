"""Generates the gRPC stubs vendored in cassette_client/_proto from the repository's proto/.

    python generate_stubs.py          # (re)writes cassette_client/_proto
    python generate_stubs.py --check  # exits 1 when the vendored stubs differ from proto/

Needs grpcio-tools (pinned in pyproject.toml's `dev` extra). protoc's Python output imports its
dependencies as top-level `cassette.v1...` modules; they are rewritten to import from the
package, so the stubs need no change to sys.path.
"""

import filecmp
import os
import re
import shutil
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
PROTO_ROOT = os.path.join(HERE, "..", "..", "proto")
PROTOS = ["cassette/v1/types.proto", "cassette/v1/serving.proto", "cassette/v1/ingestion.proto", "cassette/v1/registry.proto"]
TARGET = os.path.join(HERE, "cassette_client", "_proto")
PACKAGE = "cassette_client._proto"


def generate(out_dir):
    from grpc_tools import protoc

    include = os.path.join(os.path.dirname(protoc.__file__), "_proto")
    args = ["protoc", f"-I{PROTO_ROOT}", f"-I{include}", f"--python_out={out_dir}", f"--grpc_python_out={out_dir}"]
    if protoc.main(args + PROTOS) != 0:
        raise SystemExit("protoc failed")
    for dirpath, _, files in os.walk(out_dir):
        open(os.path.join(dirpath, "__init__.py"), "a").close()
        for name in files:
            if not name.endswith(".py"):
                continue
            path = os.path.join(dirpath, name)
            with open(path) as f:
                text = f.read()
            text = re.sub(r"^from cassette\.v1 import", f"from {PACKAGE}.cassette.v1 import", text, flags=re.M)
            with open(path, "w") as f:
                f.write(text)


def same_tree(a, b):
    compared = filecmp.dircmp(a, b)
    if compared.left_only or compared.right_only or compared.diff_files or compared.funny_files:
        return False
    return all(same_tree(os.path.join(a, d), os.path.join(b, d)) for d in compared.common_dirs if d != "__pycache__")


def main():
    if "--check" in sys.argv:
        with tempfile.TemporaryDirectory() as tmp:
            generate(tmp)
            if not same_tree(tmp, TARGET):
                print("cassette_client/_proto is out of date: run python clients/python/generate_stubs.py")
                return 1
        return 0
    shutil.rmtree(TARGET, ignore_errors=True)
    os.makedirs(TARGET)
    generate(TARGET)
    return 0


if __name__ == "__main__":
    sys.exit(main())

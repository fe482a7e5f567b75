"""Build hook: compiles errmap's protos into the package while it is built.

The API's .proto files live in the repository's proto/ directory, two levels
up. `build_py` runs grpcio-tools' protoc on proto/errmap/v1/*.proto and
writes errmap/v1/*_pb2.py and *_pb2_grpc.py into the build directory, so an
installed package carries its stubs and the source tree carries none. The
google/rpc messages they import come from googleapis-common-protos at run
time. ERRMAP_PROTO_DIR names another proto directory (a copy outside the
repository, say).

Generated stubs refuse a grpcio older than the grpcio-tools that made them,
and a protobuf runtime older than the protoc inside it. So the package's
grpcio and protobuf floors are read from a trial generation, and a build
with the newest grpcio-tools asks for a grpcio that can load its stubs.
"""

import os
import pathlib
import re
import tempfile

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = pathlib.Path(__file__).resolve().parent
PROTO_DIR_ENV = "ERRMAP_PROTO_DIR"
DEFAULT_PROTO_DIR = HERE.parent.parent / "proto"


#: Run-time dependencies besides grpcio and protobuf, whose floors come
#: from the generated stubs.
OTHER_DEPENDENCIES = ["grpcio-status>=1.62", "googleapis-common-protos>=1.62"]


def generate_stubs(out_dir):
    """Compiles proto/errmap/v1/*.proto into out_dir/errmap/v1."""
    import grpc_tools
    from grpc_tools import protoc

    proto_dir = pathlib.Path(os.environ.get(PROTO_DIR_ENV) or DEFAULT_PROTO_DIR).resolve()
    protos = sorted(proto_dir.glob("errmap/v1/*.proto"))
    if not protos:
        raise SystemExit(f"no errmap/v1/*.proto under {proto_dir}; set {PROTO_DIR_ENV} to the repository's proto/")
    well_known = pathlib.Path(grpc_tools.__file__).parent / "_proto"
    args = [
        "protoc",
        f"-I{proto_dir}",
        f"-I{well_known}",
        f"--python_out={out_dir}",
        f"--grpc_python_out={out_dir}",
        *(str(p.relative_to(proto_dir)) for p in protos),
    ]
    if protoc.main(args) != 0:
        raise SystemExit(f"protoc could not compile {proto_dir}/errmap/v1")
    (pathlib.Path(out_dir) / "errmap" / "v1" / "__init__.py").write_text("")


def dependencies():
    """grpcio and protobuf at least as new as the stubs this build generates."""
    with tempfile.TemporaryDirectory(prefix="errmap-stubs-") as out_dir:
        generate_stubs(out_dir)
        v1 = pathlib.Path(out_dir) / "errmap" / "v1"
        grpc_stubs = (v1 / "error_map_service_pb2_grpc.py").read_text()
        messages = (v1 / "error_map_service_pb2.py").read_text()
    grpc_version = re.search(r"GRPC_GENERATED_VERSION = '([^']+)'", grpc_stubs)
    protobuf_version = re.search(r"ValidateProtobufRuntimeVersion\(\s*\S+,\s*(\d+),\s*(\d+),\s*(\d+),", messages)
    grpc_floor = grpc_version.group(1) if grpc_version else "1.62"
    protobuf_floor = ".".join(protobuf_version.groups()) if protobuf_version else "5.26"
    return [f"grpcio>={grpc_floor}", f"protobuf>={protobuf_floor}", *OTHER_DEPENDENCIES]


class BuildWithStubs(build_py):
    """build_py that also generates the gRPC stubs into the build directory."""

    def run(self):
        super().run()
        generate_stubs(self.build_lib)


setup(cmdclass={"build_py": BuildWithStubs}, install_requires=dependencies())

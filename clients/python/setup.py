"""Build hook: compiles errmap's protos into the package while it is built.

The API's .proto files live in the repository's proto/ directory, two levels
up. `build_py` runs grpcio-tools' protoc on proto/errmap/v1/*.proto and
writes errmap/v1/*_pb2.py and *_pb2_grpc.py into the build directory, so an
installed package carries its stubs and the source tree carries none. The
google/rpc messages they import come from googleapis-common-protos at run
time. ERRMAP_PROTO_DIR names another proto directory (a copy outside the
repository, say).
"""

import os
import pathlib

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = pathlib.Path(__file__).resolve().parent
PROTO_DIR_ENV = "ERRMAP_PROTO_DIR"
DEFAULT_PROTO_DIR = HERE.parent.parent / "proto"


class BuildWithStubs(build_py):
    """build_py that also generates the gRPC stubs into the build directory."""

    def run(self):
        super().run()
        self.generate_stubs(pathlib.Path(self.build_lib))

    def generate_stubs(self, out_dir):
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
        (out_dir / "errmap" / "v1" / "__init__.py").write_text("")


setup(cmdclass={"build_py": BuildWithStubs})

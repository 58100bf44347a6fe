"""Build the atomicfile extension: libatomicfile's sources (../../src)
compiled into one CPython module, with a config.h probed by
../gen_config.py as CMake would."""
import glob
import os
import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.normpath(os.path.join(HERE, "..", ".."))
CONFIG_DIR = os.path.join(HERE, "build", "config")


class BuildExt(build_ext):
    def run(self):
        sys.path.insert(0, os.path.join(TOP, "bindings"))
        import gen_config

        cc = os.environ.get("CC") or self.compiler_cc()
        gen_config.generate(os.path.join(CONFIG_DIR, "config.h"), cc)
        # Absolute paths from here on: the objects of "../../src/x.c"
        # would land outside build/, beside this file.
        for ext in self.extensions:
            ext.sources = [os.path.join(HERE, s) for s in ext.sources]
        super().run()

    def compiler_cc(self):
        import sysconfig

        return (sysconfig.get_config_var("CC") or "cc").split()[0]


lib_sources = sorted(
    os.path.relpath(p, HERE) for p in glob.glob(os.path.join(TOP, "src", "*.c"))
)

setup(
    ext_modules=[
        Extension(
            "atomicfile._atomicfile",
            sources=["atomicfile/_atomicfile.c"] + lib_sources,
            include_dirs=[
                CONFIG_DIR,
                os.path.join(TOP, "include"),
                os.path.join(TOP, "src"),
            ],
            # The library's symbols stay inside the module.
            define_macros=[("_GNU_SOURCE", None), ("AFILE_API", "")],
            extra_compile_args=["-std=gnu11", "-fvisibility=hidden"],
        )
    ],
    cmdclass={"build_ext": BuildExt},
)

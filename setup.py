"""Builds the Cython kernels; everything else is declared in pyproject.toml."""

from Cython.Build import cythonize
from setuptools import Extension, setup

KERNELS = ("camera", "frame", "phase", "faults", "stepper")

extensions = [
    Extension(
        f"swingsync_fast.kernels.{name}",
        [f"swingsync_fast/kernels/{name}.pyx"],
        extra_compile_args=["-O3"],
    )
    for name in KERNELS
]

setup(
    ext_modules=cythonize(
        extensions,
        language_level=3,
        compiler_directives={
            "boundscheck": False,
            "wraparound": False,
            "cdivision": True,
            "initializedcheck": False,
            "embedsignature": True,
        },
    )
)

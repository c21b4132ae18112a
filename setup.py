"""Only the compiled part of the package; everything else is declared in pyproject.toml."""

from setuptools import Extension, setup

setup(
    ext_modules=[
        # The built-in model's forward pass (redline/classify/_forward.c). Optional: where no C
        # compiler is available the install still succeeds and the Python path answers.
        Extension("redline.classify._forward", ["src/redline/classify/_forward.c"], extra_compile_args=["-O3"], optional=True),
        # Training's lazy-Adam step on touched rows (redline/classify/_adam.c): bit-for-bit the
        # numpy path's float32 arithmetic, so no fused multiply-add.
        Extension("redline.classify._adam", ["src/redline/classify/_adam.c"], extra_compile_args=["-O3", "-ffp-contract=off"], optional=True),
    ]
)

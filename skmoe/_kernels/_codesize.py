"""Compile a kernel for size: LLVM's ``optsize`` attribute on its function.

Numba optimises every kernel at ``-O3``: small inner loops get vectorised
with runtime alias checks and vectorised epilogues, several times the code
of the loop, and that code is optimised and compiled again in every kernel
that calls it. Kernels whose loops run over a handful of parameters (the
solves of a Newton or least-squares step) gain nothing from it at run time.
"""

from numba.core import config, types
from numba.extending import intrinsic


def _optimize_for_size_python():
    """Nothing: under ``NUMBA_DISABLE_JIT=1`` the kernels run as Python."""


@intrinsic
def _optimize_for_size(typingctx):
    """Mark the calling kernel's LLVM function ``optsize``.

    Called as ``optimize_for_size()`` anywhere in a kernel's body (it emits
    no code). LLVM then vectorises only loops that need neither a runtime
    alias check nor a scalar epilogue, unrolls less and inlines less into
    the function. Floating-point operations and their order are unchanged
    (no fast-math), so the results are the same bits.
    """
    def codegen(context, builder, signature, args):
        builder.function.attributes.add("optsize")
        builder.function.attributes.add("noinline")
        return context.get_dummy_value()

    return types.none(), codegen


#: the intrinsic in compiled kernels; a no-op when Numba's JIT is disabled
#: (``NUMBA_DISABLE_JIT=1``, the kernels as plain Python), where an
#: intrinsic cannot be called
optimize_for_size = (_optimize_for_size_python if config.DISABLE_JIT
                     else _optimize_for_size)

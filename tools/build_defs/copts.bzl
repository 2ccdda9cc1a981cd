# dyco — the one place for compiler flags and the macros every package uses.
# C code is C11 with strict warnings; tests and benchmarks are C++ (GoogleTest).
"""Compiler flags and rule macros shared by every dyco package."""

_WARNINGS = [
    "-Wall",
    "-Wextra",
    "-Wvla",
]

# Every function whose frame is larger than a page touches each page of it
# on the way down, so that a coroutine overflowing its stack meets the guard
# below it even with a 54 KiB array on its stack, instead of writing into
# the stack below (docs/sched.md, "Overflow"). Code that is not dyco's does
# not get this from a Bazel dependency (cc_library cannot hand copts to its
# dependents): see docs/sched.md for the line to add.
STACK_CLASH = ["-fstack-clash-protection"]

_WERROR = select({
    "//tools/build_defs:werror": ["-Werror"],
    "//conditions:default": [],
})

# The tool dyco is built for (--config=asan, tsan, valgrind). A public
# header reads them (context/context.h's DYCO_CONTEXT_SP_ONLY), so they are
# `defines`, which Bazel passes to every target that depends on a dyco
# library: a dependent compiles dyco's headers as dyco was compiled. As
# copts they reached dyco's own sources only, and a dependent built under
# --config=asan saw DYCO_CONTEXT_SP_ONLY 1 where dyco had 0.
TOOL_DEFINES = select({
    "//tools/build_defs:asan": ["DYCO_ASAN=1"],
    "//tools/build_defs:tsan": ["DYCO_TSAN=1"],
    "//tools/build_defs:valgrind": ["DYCO_VALGRIND=1"],
    "//conditions:default": [],
})

# --config=ucontext: read by dyco's own sources only (never by a public
# header), so a copt.
_UCONTEXT_COPTS = select({
    "//tools/build_defs:ucontext": ["-DDYCO_CONTEXT_UCONTEXT=1"],
    "//conditions:default": [],
})

# --config=faults: every dyco C source includes base/fault.h first, whose
# macros route allocations and the system calls of base/fault.h's kinds
# through counters a test can make fail (tools/faults). Never in another
# build.
_FAULT_COPTS = select({
    "//tools/build_defs:faults": [
        "-DDYCO_FAULTS=1",
        "-include",
        "base/fault.h",
    ],
    "//conditions:default": [],
})

# Flags for dyco's C sources.
DYCO_COPTS = [
    "-std=c11",
    # POSIX and Linux interfaces (epoll, ucontext, pthread extensions); set
    # here, never in a header.
    "-D_GNU_SOURCE",
    "-Wstrict-prototypes",
    "-Wmissing-prototypes",
    "-fno-common",
    # Unwind tables in every object: 32-bit arm's compilers emit none for C
    # by default, and then glibc's backtrace() (the watchdog's report,
    # dyco_coroutine_backtrace) stops at the first frame of dyco. Elsewhere
    # they are the default already.
    "-funwind-tables",
] + STACK_CLASH + _WARNINGS + _WERROR + _UCONTEXT_COPTS + _FAULT_COPTS

# Flags for tests and benchmarks (C++ that includes dyco's C headers).
DYCO_TEST_COPTS = [
    "-std=c++17",
    "-Wno-missing-field-initializers",
] + STACK_CLASH + _WARNINGS + _WERROR + _UCONTEXT_COPTS

# Targets that link libraries only the host has (google benchmark,
# boost.context) are skipped by cross builds.
HOST_ONLY = select({
    "//tools/build_defs:cross": ["@platforms//:incompatible"],
    "//conditions:default": [],
})

# Targets that hand dyco's objects to a plain compiler (the install test):
# host only, and not in sanitizer builds, whose objects need the sanitizer's
# runtime.
PLAIN_HOST_ONLY = select({
    "//tools/build_defs:cross": ["@platforms//:incompatible"],
    "//tools/build_defs:asan": ["@platforms//:incompatible"],
    "//tools/build_defs:tsan": ["@platforms//:incompatible"],
    "//conditions:default": [],
})

def dyco_cc_library(name, copts = [], defines = [], **kwargs):
    """A cc_library of dyco C code, with dyco's flags and TOOL_DEFINES."""
    native.cc_library(
        name = name,
        copts = DYCO_COPTS + copts,
        defines = TOOL_DEFINES + defines,
        **kwargs
    )

def dyco_cc_test(name, srcs, deps = [], copts = [], size = "small", **kwargs):
    """A GoogleTest test; runs on every architecture (under qemu when cross)."""
    native.cc_test(
        name = name,
        srcs = srcs,
        copts = DYCO_TEST_COPTS + copts,
        size = size,
        deps = deps + ["//third_party:gtest_main"],
        **kwargs
    )

def dyco_cc_benchmark(name, srcs, deps = [], copts = [], tags = [], visibility = ["//:__subpackages__"], **kwargs):
    """A google benchmark program: testonly, tagged benchmark, host only."""
    native.cc_binary(
        name = name,
        visibility = visibility,
        srcs = srcs,
        copts = DYCO_TEST_COPTS + copts,
        testonly = True,
        tags = tags + ["benchmark"],
        target_compatible_with = HOST_ONLY,
        deps = deps + ["//third_party:benchmark"],
        **kwargs
    )

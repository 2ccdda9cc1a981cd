# dyco — a gcc cross toolchain for each Debian cross compiler triple.
# One cc_toolchain_config per triple; tests of the build run under qemu-user.
"""Cross C/C++ toolchains built from Debian's gcc-<triple> packages."""

load(
    "@bazel_tools//tools/cpp:cc_toolchain_config_lib.bzl",
    "feature",
    "flag_group",
    "flag_set",
    "tool_path",
)
load("@bazel_tools//tools/build_defs/cc:action_names.bzl", "ACTION_NAMES")

_COMPILE_ACTIONS = [
    ACTION_NAMES.assemble,
    ACTION_NAMES.preprocess_assemble,
    ACTION_NAMES.c_compile,
    ACTION_NAMES.cpp_compile,
    ACTION_NAMES.cpp_header_parsing,
    ACTION_NAMES.cpp_module_compile,
    ACTION_NAMES.linkstamp_compile,
]

_LINK_ACTIONS = [
    ACTION_NAMES.cpp_link_executable,
    ACTION_NAMES.cpp_link_dynamic_library,
    ACTION_NAMES.cpp_link_nodeps_dynamic_library,
]

def _flags(actions, flags):
    return flag_set(actions = actions, flag_groups = [flag_group(flags = flags)])

def _impl(ctx):
    triple = ctx.attr.triple
    tools = ["ar", "cpp", "gcc", "gcov", "ld", "nm", "objcopy", "objdump", "strip"]
    tool_paths = [
        tool_path(name = t, path = "/usr/bin/%s-%s" % (triple, t))
        for t in tools
    ]
    features = [
        feature(name = "supports_pic", enabled = True),
        feature(name = "supports_start_end_lib", enabled = False),
        feature(
            name = "default_compile_flags",
            enabled = True,
            flag_sets = [
                _flags(_COMPILE_ACTIONS, [
                    "-no-canonical-prefixes",
                    "-fno-canonical-system-headers",
                    "-U_FORTIFY_SOURCE",
                    "-fstack-protector",
                    "-fno-omit-frame-pointer",
                    "-Wall",
                ] + ctx.attr.extra_copts),
            ],
        ),
        feature(
            name = "default_link_flags",
            enabled = True,
            flag_sets = [
                _flags(_LINK_ACTIONS, [
                    "-no-canonical-prefixes",
                    "-Wl,-z,relro,-z,now",
                    "-pass-exit-codes",
                    "-pthread",
                    "-lstdc++",
                    "-lm",
                ]),
            ],
        ),
        feature(
            name = "dbg",
            flag_sets = [_flags(_COMPILE_ACTIONS, ["-g"])],
        ),
        feature(
            name = "opt",
            flag_sets = [
                _flags(_COMPILE_ACTIONS, [
                    "-g0",
                    "-O2",
                    "-D_FORTIFY_SOURCE=1",
                    "-DNDEBUG",
                    "-ffunction-sections",
                    "-fdata-sections",
                ]),
                _flags(_LINK_ACTIONS, ["-Wl,--gc-sections"]),
            ],
        ),
        feature(
            name = "fastbuild",
            flag_sets = [_flags(_COMPILE_ACTIONS, ["-O1"])],
        ),
    ]
    return cc_common.create_cc_toolchain_config_info(
        ctx = ctx,
        features = features,
        cxx_builtin_include_directories = [
            "/usr/lib/gcc-cross/%s" % triple,
            "/usr/%s/include" % triple,
            "/usr/include",
            "/usr/lib/gcc/%s" % triple,
        ],
        toolchain_identifier = triple,
        host_system_name = "x86_64-linux-gnu",
        target_system_name = triple,
        target_cpu = ctx.attr.cpu,
        target_libc = "glibc",
        compiler = "gcc",
        abi_version = "gcc",
        abi_libc_version = "glibc",
        tool_paths = tool_paths,
    )

cc_toolchain_config = rule(
    implementation = _impl,
    attrs = {
        "cpu": attr.string(mandatory = True),
        "extra_copts": attr.string_list(default = []),
        "triple": attr.string(mandatory = True),
    },
    provides = [CcToolchainConfigInfo],
)

def dyco_cross_toolchain(triple, cpu, cpu_constraint, extra_copts = []):
    """Declares the toolchain `:toolchain` for one Debian cross triple.

    Args:
      triple: the gcc triple, e.g. "aarch64-linux-gnu".
      cpu: Bazel's name for the target cpu.
      cpu_constraint: the @platforms//cpu value the toolchain targets.
      extra_copts: flags every compile for this target gets.
    """
    cc_toolchain_config(
        name = "config",
        cpu = cpu,
        extra_copts = extra_copts,
        triple = triple,
    )
    native.filegroup(name = "empty")
    native.cc_toolchain(
        name = "cc_toolchain",
        all_files = ":empty",
        ar_files = ":empty",
        as_files = ":empty",
        compiler_files = ":empty",
        dwp_files = ":empty",
        linker_files = ":empty",
        objcopy_files = ":empty",
        strip_files = ":empty",
        supports_param_files = 1,
        toolchain_config = ":config",
        toolchain_identifier = triple,
    )
    native.toolchain(
        name = "toolchain",
        exec_compatible_with = [
            "@platforms//cpu:x86_64",
            "@platforms//os:linux",
        ],
        target_compatible_with = [
            cpu_constraint,
            "@platforms//os:linux",
            "//tools/platforms:cross",
        ],
        toolchain = ":cc_toolchain",
        toolchain_type = "@bazel_tools//tools/cpp:toolchain_type",
    )

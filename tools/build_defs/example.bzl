# dyco — examples: each one a program and a test that runs it and checks
# what it printed, so that none can rot.
"""The dyco_example macro."""

load("//tools/build_defs:copts.bzl", "DYCO_COPTS", "HOST_ONLY")

def dyco_example(name, srcs, deps, expect, args = [], timeout_s = 60, tags = [], host_only = False, **kwargs):
    """An example program `name` and the test `name_test` that runs it.

    Args:
      name: the program.
      srcs: its C sources.
      deps: dyco targets it uses.
      expect: extended regexes; each must match a line of its output.
      args: arguments for the program when the test runs it.
      timeout_s: the test's own time limit for the program.
      tags: test tags.
      host_only: for examples that need host-only libraries or servers.
      **kwargs: passed to cc_binary.
    """
    native.cc_binary(
        name = name,
        srcs = srcs,
        copts = DYCO_COPTS,
        deps = deps,
        target_compatible_with = HOST_ONLY if host_only else [],
        **kwargs
    )
    test_args = [str(timeout_s), "$(location :%s)" % name]
    for a in args:
        test_args += ["--arg", a]
    test_args.append("--")
    test_args += [e.replace("$", "$$") for e in expect]
    # The test is a shell script, which cross configs cannot run under
    # qemu-user (--run_under wraps the script itself): it runs on the host
    # and under the host's sanitizer configs; the layers' unit tests cover
    # the other architectures.
    native.sh_test(
        name = name + "_test",
        srcs = ["//tools:run_example.sh"],
        args = test_args,
        data = [":" + name],
        tags = tags,
        target_compatible_with = HOST_ONLY,
    )

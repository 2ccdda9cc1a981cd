# dyco — local repositories that stand in for Bazel's downloads.
# Everything here comes from Debian packages or from shims kept in this tree.
"""Repositories dyco needs, all local, for an offline Bazel 4.2.3."""

def _maybe_local(name, path, **kwargs):
    if name not in native.existing_rules():
        native.local_repository(name = name, path = path, **kwargs)

def dyco_dependencies(dyco_path = None):
    """Declares the local repositories dyco's build needs.

    Args:
      dyco_path: where dyco's tree is, when called from another workspace
        (the path given to its local_repository); None inside dyco itself.
    """
    root = (dyco_path + "/") if dyco_path else ""

    # Shims re-exporting Bazel's native rules under the names rules_cc,
    # rules_java and remote_coverage_tools expect.
    _maybe_local("rules_cc", root + "third_party/shims/rules_cc")
    _maybe_local("rules_java", root + "third_party/shims/rules_java")
    _maybe_local("remote_coverage_tools", root + "third_party/shims/remote_coverage_tools")

    # Debian's bazel-platforms.
    _maybe_local("platforms", "/usr/share/bazel/tools/platforms")

    # GoogleTest from the sources Debian ships, so it cross-compiles too.
    if "com_google_googletest" not in native.existing_rules():
        native.new_local_repository(
            name = "com_google_googletest",
            path = "/usr/src/googletest",
            build_file = str(Label("//third_party:googletest.BUILD")),
        )

    # BoringSSL headers as Debian's android-libboringssl-dev installs them.
    if "boringssl" not in native.existing_rules():
        native.new_local_repository(
            name = "boringssl",
            path = "/usr/include/android",
            build_file = str(Label("//third_party:boringssl.BUILD")),
        )

def dyco_register_toolchains():
    """Registers dyco's cross toolchains (i386, arm, aarch64).

    With them registered, --platforms=@dyco//tools/platforms:aarch64 (and
    --incompatible_enable_cc_toolchain_resolution) picks dyco's toolchain;
    tools/consumer.bazelrc's --config=aarch64 needs neither this nor more.
    """
    native.register_toolchains(
        str(Label("//tools/toolchains/i686-linux-gnu:toolchain")),
        str(Label("//tools/toolchains/arm-linux-gnueabihf:toolchain")),
        str(Label("//tools/toolchains/aarch64-linux-gnu:toolchain")),
    )

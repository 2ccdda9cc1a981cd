# Shim: rules_java for an offline Bazel 4.2.3.
# Re-exports Bazel's native Java rules under the names rules_java provides.
"""rules_java shim: the native rules under their Starlark names."""

java_binary = native.java_binary
java_import = native.java_import
java_library = native.java_library
java_lite_proto_library = native.java_lite_proto_library
java_package_configuration = native.java_package_configuration
java_plugin = native.java_plugin
java_proto_library = native.java_proto_library
java_runtime = native.java_runtime
java_test = native.java_test
java_toolchain = native.java_toolchain

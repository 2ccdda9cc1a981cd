# dyco — install tests: what every install test script shares. Sourced.
# install_dyco installs into $TEST_TMPDIR/prefix with the same program as
# README's `tools/bazel run //tools:install -- --prefix DIR` and points
# pkg-config at it; fail prints a message and exits.

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

install_dyco() {
  prefix="$TEST_TMPDIR/prefix"
  tools/install --prefix "$prefix" >/dev/null
  export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
  pkg-config --exists dyco dyco-hook dyco-static dyco-hook-static ||
    fail "pkg-config does not find dyco's files"
  here=tools/install_test
  tmp="$TEST_TMPDIR"
}

# elapsed_ms FILE: the "N answers in M ms" a program printed, as M.
elapsed_ms() {
  sed -n 's/^.* in \([0-9]*\) ms$/\1/p' "$1"
}

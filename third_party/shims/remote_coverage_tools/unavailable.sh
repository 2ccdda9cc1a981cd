#!/bin/sh
# Shim: coverage tools are not available in an offline dyco build.
echo "dyco: coverage tools are not available offline" >&2
exit 1

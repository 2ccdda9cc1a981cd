#!/usr/bin/env bash
# dyco — context layer test: readelf -n shows the GNU property each of
# dyco's assembly files declares when built for each architecture with and
# without control-flow protection, and the hardened test program's own.
set -euo pipefail
program=$1
fail=0

# expect WHAT FILE PATTERN [absent]: readelf -n FILE matches PATTERN (or not).
expect() {
  local what=$1 file=$2 pattern=$3 absent=${4:-}
  local notes
  notes=$(readelf -n "$file" 2>/dev/null | grep -E "feature|ISA" | sed "s/^ *//" || true)
  if [ -n "$absent" ]; then
    if grep -qE "$pattern" <<<"$notes"; then
      echo "FAIL $what: has ${pattern} (${notes:-no property})"
      fail=1
      return
    fi
  elif ! grep -qE "$pattern" <<<"$notes"; then
    echo "FAIL $what: no ${pattern} (${notes:-no property})"
    fail=1
    return
  fi
  echo "ok   $what: ${notes:-no property}"
}

# The x86_64 program built with -fcf-protection=full, dyco's switch in it.
expect "cf_protection_test (x86_64)" "$program" "x86 feature: IBT"
expect "cf_protection_test (x86_64), no SHSTK" "$program" "SHSTK" absent

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# cc, arch, assembly file, flags, what readelf must show ("" for nothing).
while read -r cc arch file flags want; do
  if ! command -v "$cc" >/dev/null; then
    echo "FAIL $cc is not installed (tools/bazel installs it)"
    fail=1
    continue
  fi
  [ "$flags" = - ] && flags=""
  obj="$tmp/$arch-$(basename "$file" .S)-${flags//[^a-z]/}.o"
  "$cc" -D_GNU_SOURCE -I. $flags -c "$file" -o "$obj"
  what="$arch $(basename "$file") ${flags:-(no flags)}"
  if [ "$want" = none ]; then
    expect "$what" "$obj" "feature" absent
  else
    expect "$what" "$obj" "$want"
    if [ "$arch" != aarch64 ]; then
      expect "$what, no SHSTK" "$obj" "SHSTK" absent
    fi
  fi
done <<'LIST'
gcc x86_64 context/asm/switch_x86_64_sysv_elf_gas.S -fcf-protection=full x86 feature: IBT$
gcc x86_64 context/asm/switch_x86_64_sysv_elf_gas.S - none
gcc x86_64 context/internal/abi_test_helpers.S -fcf-protection=full x86 feature: IBT$
i686-linux-gnu-gcc i386 context/asm/switch_i386_sysv_elf_gas.S -fcf-protection=full x86 feature: IBT$
i686-linux-gnu-gcc i386 context/asm/switch_i386_sysv_elf_gas.S - none
i686-linux-gnu-gcc i386 context/internal/abi_test_helpers.S -fcf-protection=full x86 feature: IBT$
aarch64-linux-gnu-gcc aarch64 context/asm/switch_arm64_aapcs_elf_gas.S -mbranch-protection=standard AArch64 feature: BTI, PAC$
aarch64-linux-gnu-gcc aarch64 context/asm/switch_arm64_aapcs_elf_gas.S -mbranch-protection=bti AArch64 feature: BTI$
aarch64-linux-gnu-gcc aarch64 context/asm/switch_arm64_aapcs_elf_gas.S - none
aarch64-linux-gnu-gcc aarch64 context/internal/abi_test_helpers.S -mbranch-protection=standard AArch64 feature: BTI, PAC$
arm-linux-gnueabihf-gcc arm context/asm/switch_arm_aapcs_elf_gas.S - none
LIST
exit $fail

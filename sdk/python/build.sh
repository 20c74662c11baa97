#!/usr/bin/env bash
# Builds a Python Sluice plugin project into a WebAssembly component.
#
#   bash build.sh PROJECT_DIR KIND OUT_WASM
#
# PROJECT_DIR holds `plugin.py` (the plugin class) and `sluice-plugin.toml`; KIND is
# `filter` or `transform`. Environment:
#   SLUICE_SDK         this kit (default: the directory of this script); only read
#   SLUICE_WIT         the directory of the contract's *.wit files (default: $SLUICE_SDK/../../wit)
#   SLUICE_TOOLCHAINS  where toolchains are installed (default: ~/.cache/sluice/toolchains);
#                      this script installs componentize-py into $SLUICE_TOOLCHAINS/python
#
# Writes only into $SLUICE_TOOLCHAINS/python, PROJECT_DIR/.sluice-build/ and OUT_WASM.
set -eu

COMPONENTIZE_PY_VERSION=0.25.1

say() { printf 'sluice: python: %s\n' "$*" >&2; }
fail() {
    say "error: $1"
    shift
    for line in "$@"; do printf '  %s\n' "$line" >&2; done
    exit 1
}

[ $# -eq 3 ] || fail "usage: build.sh PROJECT_DIR KIND OUT_WASM" "KIND is filter or transform"
PROJECT=$1
KIND=$2
OUT=$3
case $KIND in
    filter | transform) ;;
    *) fail "unknown kind '$KIND'" "set kind = \"filter\" or kind = \"transform\" in sluice-plugin.toml" ;;
esac
[ -d "$PROJECT" ] || fail "no project directory $PROJECT"
PROJECT=$(cd "$PROJECT" && pwd)
[ -f "$PROJECT/plugin.py" ] || fail "$PROJECT has no plugin.py" \
    "a Python plugin project keeps its plugin class in plugin.py (see the templates in $(dirname "$0")/template)"

SDK=${SLUICE_SDK:-$(cd "$(dirname "$0")" && pwd)}
WIT=${SLUICE_WIT:-$SDK/../../wit}
TOOLCHAINS=${SLUICE_TOOLCHAINS:-$HOME/.cache/sluice/toolchains}
if [ ! -f "$SDK/sluice_sdk/__init__.py" ] || [ ! -f "$SDK/exports/sluice_${KIND}_app.py" ]; then
    fail "the kit at $SDK is incomplete (no sluice_sdk/ or exports/)" "set SLUICE_SDK to the sdk/python directory"
fi
ls "$WIT"/*.wit >/dev/null 2>&1 || fail "no *.wit files in $WIT" "set SLUICE_WIT to the contract's wit/ directory"

# --- the toolchain: componentize-py in a venv ---------------------------------------------

TC=$TOOLCHAINS/python
VENV=$TC/venv
CPY=$VENV/bin/componentize-py

have_toolchain() {
    [ -x "$CPY" ] && [ "$("$CPY" --version 2>/dev/null)" = "componentize-py $COMPONENTIZE_PY_VERSION" ]
}

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null 2>&1; then sudo -n "$@"; else return 1; fi
}

install_toolchain() {
    PY=$(command -v python3 || true)
    [ -n "$PY" ] || fail "python3 is not installed" "install Python 3.9 or newer (Debian: apt-get install python3 python3-venv)"
    "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 9))' ||
        fail "$PY is $("$PY" --version 2>&1); componentize-py needs Python 3.9 or newer" "install a newer python3"
    if ! "$PY" -c 'import venv, ensurepip' >/dev/null 2>&1; then
        say "installing python3-venv (apt-get)"
        { as_root apt-get install -y -qq python3-venv >/dev/null 2>&1 ||
            { as_root apt-get update -qq >/dev/null && as_root apt-get install -y -qq python3-venv >/dev/null; }; } ||
            fail "python3 has no venv/ensurepip module and apt-get could not install python3-venv" \
                "install it yourself (apt-get install python3-venv) and build again"
    fi
    rm -rf "$VENV"
    say "creating a virtual environment in $VENV"
    "$PY" -m venv "$VENV" || fail "python3 -m venv $VENV failed" "see the message above; remove $VENV and build again"
    say "installing componentize-py $COMPONENTIZE_PY_VERSION from PyPI into it"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "componentize-py==$COMPONENTIZE_PY_VERSION" ||
        fail "pip could not install componentize-py $COMPONENTIZE_PY_VERSION" \
            "check the network or the PyPI mirror (pip config), then build again"
    have_toolchain || fail "componentize-py was installed but does not run ($CPY)" "remove $TC and build again"
}

mkdir -p "$TC"
if ! have_toolchain; then
    # One installer at a time: a second build waits for the first rather than racing it.
    if command -v flock >/dev/null 2>&1; then
        exec 9>"$TC/.lock"
        flock 9
    fi
    have_toolchain || install_toolchain
fi

# --- the build directory -------------------------------------------------------------------

BUILD=$PROJECT/.sluice-build
mkdir -p "$BUILD"
# componentize-py writes __pycache__ next to the sources it imports: give it a copy of the
# kit (which may be read-only), fresh each time.
rm -rf "$BUILD/kit"
mkdir -p "$BUILD/kit"
cp -R "$SDK/sluice_sdk" "$BUILD/kit/"
cp "$SDK/exports/sluice_${KIND}_app.py" "$BUILD/kit/"

PATHS=(-p "$BUILD/kit" -p "$PROJECT")
# Pure-Python dependencies from requirements.txt, installed when the file changes.
if [ -f "$PROJECT/requirements.txt" ]; then
    STAMP=$(cksum <"$PROJECT/requirements.txt")
    if [ ! -f "$BUILD/site.stamp" ] || [ "$(cat "$BUILD/site.stamp")" != "$STAMP" ]; then
        say "installing requirements.txt into $BUILD/site"
        rm -rf "$BUILD/site"
        "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --target "$BUILD/site" \
            -r "$PROJECT/requirements.txt" ||
            fail "pip could not install $PROJECT/requirements.txt" \
                "only pure-Python packages work inside a component; check the names and the network"
        printf '%s\n' "$STAMP" >"$BUILD/site.stamp"
    fi
    PATHS+=(-p "$BUILD/site")
fi

# --- componentize ----------------------------------------------------------------------------

say "componentize-py: world sluice:plugin/$KIND-frames@0.1.0"
TMP_OUT=$BUILD/out.wasm
rm -f "$TMP_OUT"
if ! (cd "$BUILD" && RUST_BACKTRACE=0 "$CPY" -q -d "$WIT" -w "sluice:plugin/$KIND-frames@0.1.0" \
    componentize "${PATHS[@]}" "sluice_${KIND}_app" -o "$TMP_OUT"); then
    fail "componentize-py failed (the Python traceback above names the file and line)" \
        "plugin.py is imported while building: import errors, syntax errors and a missing or ambiguous" \
        "plugin class show up here"
fi
mkdir -p "$(dirname "$OUT")"
mv -f "$TMP_OUT" "$OUT"
say "built $OUT ($(wc -c <"$OUT" | tr -d ' ') bytes)"

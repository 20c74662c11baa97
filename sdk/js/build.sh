#!/usr/bin/env bash
# Builds a JavaScript Sluice plugin project into a WebAssembly component.
#
#   bash build.sh PROJECT_DIR KIND OUT_WASM
#
# KIND is `filter` or `transform`. Environment: SLUICE_SDK (this kit; default: this
# script's directory), SLUICE_WIT (the contract's *.wit files), SLUICE_TOOLCHAINS (where
# the JavaScript toolchains are installed, under js/; default ~/.cache/sluice/toolchains).
#
# The engine comes from `engine = "qjs"` (QuickJS via componentize-qjs, the default) or
# `engine = "spidermonkey"` (componentize-js) in PROJECT_DIR/sluice-plugin.toml. The
# author's module is plugin.js (or package.json's "main"); it imports the kit as `#sluice`,
# which package.json maps to .sluice-build/sdk/sluice.js, where this script copies the kit.
set -eu

QJS_VERSION=0.4.5
SPIDERMONKEY_VERSION=0.23.0
ROLLDOWN_VERSION=1.3.2

die() {
  echo "sluice js build: error: $*" >&2
  exit 1
}

[ $# -eq 3 ] || die "usage: build.sh PROJECT_DIR KIND OUT_WASM"
PROJECT_DIR=$(cd "$1" && pwd) || die "project directory $1 does not exist"
KIND=$2
OUT=$3
case "$OUT" in /*) ;; *) OUT="$PWD/$OUT" ;; esac
SDK=${SLUICE_SDK:-$(cd "$(dirname "$0")" && pwd)}
TOOLCHAINS=${SLUICE_TOOLCHAINS:-$HOME/.cache/sluice/toolchains}
WIT=${SLUICE_WIT:-}
[ -n "$WIT" ] && [ -d "$WIT" ] || die "SLUICE_WIT must name the directory of the contract's .wit files (got '${WIT}')"

case "$KIND" in
  filter) WORLD=filter-frames; EXPORT=framesFilter; GLUE=filterExports ;;
  transform) WORLD=transform-frames; EXPORT=framesTransform; GLUE=transformExports ;;
  *) die "KIND must be filter or transform, not '$KIND'" ;;
esac

# The engine: a top-level `engine = "..."` line of the manifest (before any [table]).
ENGINE=qjs
MANIFEST="$PROJECT_DIR/sluice-plugin.toml"
if [ -f "$MANIFEST" ]; then
  found=$(awk '/^[[:space:]]*\[/ { exit } /^[[:space:]]*engine[[:space:]]*=/ { sub(/^[^=]*=[[:space:]]*/, ""); sub(/[[:space:]]*(#.*)?$/, ""); gsub(/["\047]/, ""); print; exit }' "$MANIFEST")
  [ -n "$found" ] && ENGINE=$found
fi
case "$ENGINE" in
  qjs | quickjs) ENGINE=qjs ;;
  spidermonkey) ;;
  *) die "$MANIFEST: engine = \"$ENGINE\" is not \"qjs\" or \"spidermonkey\"" ;;
esac

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo -n "$@"; fi
}

# Node and npm (Node 18 or newer).
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "sluice js build: installing Node.js and npm (apt-get install nodejs npm)"
  { as_root apt-get update -qq && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null; } ||
    die "could not install Node.js; install Node.js 18+ and npm yourself (e.g. apt-get install nodejs npm) and build again"
fi
major=$(node -p 'process.versions.node.split(".")[0]')
[ "$major" -ge 18 ] || die "Node.js $(node --version) is too old; the kit needs Node.js 18 or newer"

# The engine's toolchain, once, into its own npm prefix.
npm_install() { # PREFIX MARKER PACKAGES...
  prefix=$1
  marker=$2
  shift 2
  [ -f "$prefix/$marker" ] && return 0
  echo "sluice js build: installing $* into $prefix (npm)"
  mkdir -p "$prefix"
  [ -f "$prefix/package.json" ] || echo '{ "private": true }' >"$prefix/package.json"
  if ! npm install --prefix "$prefix" --no-audit --no-fund --loglevel=error --save-exact "$@" >"$prefix/npm-install.log" 2>&1; then
    cat "$prefix/npm-install.log" >&2
    die "npm install $* failed (log above, kept in $prefix/npm-install.log); check that the npm registry is reachable, then build again"
  fi
  touch "$prefix/$marker"
}

if [ "$ENGINE" = qjs ]; then
  TC="$TOOLCHAINS/js/qjs-$QJS_VERSION"
  npm_install "$TC" .installed "componentize-qjs@$QJS_VERSION"
  COMPONENTIZE="$TC/node_modules/.bin/componentize-qjs"
else
  TC="$TOOLCHAINS/js/spidermonkey-$SPIDERMONKEY_VERSION"
  npm_install "$TC" .installed "@bytecodealliance/componentize-js@$SPIDERMONKEY_VERSION" "rolldown@$ROLLDOWN_VERSION"
  COMPONENTIZE="$TC/node_modules/@bytecodealliance/componentize-js/src/cli.js"
  ROLLDOWN="$TC/node_modules/.bin/rolldown"
fi

# The author's module and the `#sluice` import map.
cd "$PROJECT_DIR"
[ -f package.json ] || die "$PROJECT_DIR/package.json is missing; it maps the kit: { \"type\": \"module\", \"imports\": { \"#sluice\": \"./.sluice-build/sdk/sluice.js\", \"#sluice/testing\": \"./.sluice-build/sdk/testing.js\" } }"
MAIN=$(node -e '
  const p = JSON.parse(require("fs").readFileSync("package.json", "utf8"));
  const want = "./.sluice-build/sdk/sluice.js";
  if (!p.imports || p.imports["#sluice"] !== want) {
    console.error(`package.json must map the kit: "imports": { "#sluice": "${want}", "#sluice/testing": "./.sluice-build/sdk/testing.js" }`);
    process.exit(1);
  }
  console.log(p.main || "plugin.js");
') || die "package.json of $PROJECT_DIR is not usable (see above)"
MAIN=${MAIN#./}
[ -f "$MAIN" ] || die "$PROJECT_DIR/$MAIN is missing: it is the plugin's module (export init and $KIND)"

# The kit, copied fresh next to the project (Node's tests use it too), and the entry.
BUILD="$PROJECT_DIR/.sluice-build"
mkdir -p "$BUILD"
rm -rf "$BUILD/sdk"
mkdir -p "$BUILD/sdk"
for f in sluice.js frames.js glue.js host.js utf8.js testing.js; do
  [ -f "$SDK/$f" ] || die "the kit in $SDK is incomplete: $f is missing"
  cp "$SDK/$f" "$BUILD/sdk/$f"
done
cat >"$BUILD/entry.js" <<EOF
// Generated by the Sluice JavaScript kit's build.sh: the component's entry module.
import { log, counterAdd } from "sluice:plugin/host@0.1.0";
import { setHost } from "./sdk/host.js";
import { $GLUE } from "./sdk/glue.js";
import * as plugin from "../$MAIN";

setHost({ log, counterAdd });

export const $EXPORT = $GLUE(plugin);
EOF

mkdir -p "$(dirname "$OUT")"
rm -f "$OUT"
started=$(date +%s)
if [ "$ENGINE" = qjs ]; then
  echo "sluice js build: componentize-qjs $QJS_VERSION ($WORLD) -> $OUT"
  "$COMPONENTIZE" --wit "$WIT" --js "$BUILD/entry.js" --module-root "$PROJECT_DIR" -n "$WORLD" --sync -o "$OUT" >"$BUILD/componentize.log" 2>&1 || {
    cat "$BUILD/componentize.log" >&2
    die "componentize-qjs failed (messages above); an exception at module load or a failed import is the usual cause"
  }
else
  # componentize-js resolves only relative imports: bundle `#sluice` and the author's
  # imports into one module first.
  echo "sluice js build: rolldown $ROLLDOWN_VERSION bundle, then componentize-js $SPIDERMONKEY_VERSION ($WORLD) -> $OUT"
  "$ROLLDOWN" ./.sluice-build/entry.js --format esm --file .sluice-build/bundle.js --external "sluice:plugin/host@0.1.0" >"$BUILD/bundle.log" 2>&1 || {
    cat "$BUILD/bundle.log" >&2
    die "bundling $MAIN failed (messages above)"
  }
  # Without `-d http fetch-event` the component imports wasi:http, which Sluice does not
  # give plugins.
  (cd "$BUILD" && node "$COMPONENTIZE" bundle.js --wit "$WIT" -n "$WORLD" -d http fetch-event -o "$OUT") >"$BUILD/componentize.log" 2>&1 || {
    cat "$BUILD/componentize.log" >&2
    die "componentize-js failed (messages above)"
  }
fi
[ -f "$OUT" ] || die "the componentizer wrote no $OUT"
echo "sluice js build: wrote $OUT ($(wc -c <"$OUT") bytes, $ENGINE, $(($(date +%s) - started)) s)"

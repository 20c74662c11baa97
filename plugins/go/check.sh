#!/usr/bin/env bash
# Checks everything the Go kit promises: the kit's and the plugins' unit tests, the builds
# (from a read-only copy of the kit), conformance with the Rust json-filter and mask-pii,
# a differential test of the JSON reader, the garbage-collector stress run, and fresh
# projects from both templates.
#
#   bash plugins/go/check.sh
#
# Environment: SLUICE (the sluice binary; default: sluice on PATH), RUST_PLUGINS (the
# built Rust reference plugins; default: ~/.cache/sluice/target/sluice-plugins/
# wasm32-wasip2/release), SLUICE_TOOLCHAINS (as for build.sh). Ends with
# 'N passed, N failed'.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
sluice=${SLUICE:-sluice}
rust_plugins=${RUST_PLUGINS:-$HOME/.cache/sluice/target/sluice-plugins/wasm32-wasip2/release}
toolchains=${SLUICE_TOOLCHAINS:-$HOME/.cache/sluice/toolchains}
work=$(mktemp -d)
trap 'chmod -R u+w "$work"; rm -rf "$work"' EXIT
passed=0 failed=0
step() {
	local name=$1
	shift
	if "$@" >"$work/step.log" 2>&1; then
		passed=$((passed + 1))
		echo "ok   $name"
	else
		failed=$((failed + 1))
		echo "FAIL $name"
		tail -n 30 "$work/step.log" | sed 's/^/     /'
	fi
}

# The kit as `sluice plugin build` hands it over: a read-only copy.
cp -R "$repo/sdk/go" "$work/kit"
chmod -R a-w "$work/kit"
export SLUICE_SDK=$work/kit SLUICE_WIT=$repo/wit SLUICE_TOOLCHAINS=$toolchains

build() { bash "$work/kit/build.sh" "$here/$1" "$2" "$work/$1.wasm"; }
plugins="passthrough:transform property-filter:filter json-filter:filter mask-pii:transform gc-stress:transform"
for p in $plugins; do
	step "build $p" build "${p%%:*}" "${p##*:}"
done

gorun() {
	local dir=$1
	shift
	(cd "$dir" && GOTOOLCHAIN=local GOPROXY=off GOFLAGS=-mod=mod GOCACHE="$toolchains/go/cache" "$toolchains/go/venv/bin/go" "$@")
}
gotest() { gorun "$1" vet ./... && gorun "$1" test ./...; }
step "go vet + go test sdk/go/sluice" gotest "$repo/sdk/go/sluice"
for p in $plugins; do
	step "go vet + go test ${p%%:*}" gotest "$here/${p%%:*}"
done

step "conformance (tests/conformance/cases.toml)" python3 "$here/conformance.py" "$sluice" "$rust_plugins" "$work"
step "json-filter differential test" python3 "$here/json_differential.py" "$sluice" "$rust_plugins/json_filter.wasm" "$work/json-filter.wasm" 3000

# The garbage collector: 50,000 messages of 2 KiB; any collection at the wrong moment traps.
python3 - "$work/stress.jsonl" <<'PY'
import json, sys
with open(sys.argv[1], "w") as f:
    for i in range(50000):
        body = json.dumps({"type": "paid" if i % 2 else "new", "n": i, "pad": "x" * 2000,
                           "card": "4111 1111 1111 1111", "mail": "jane.doe@example.com"})
        f.write(json.dumps({"key": f"k{i}", "properties": {"region": "eu" if i % 3 else "us"}, "body": body}) + "\n")
PY
stress() {
	local wasm=$1 want=$2
	shift 2
	"$sluice" plugin test "$work/$wasm.wasm" --input "$work/stress.jsonl" --batch-size 64 --memory 16MiB "$@" 2>"$work/stress-$wasm.err" >/dev/null || true
	cat "$work/stress-$wasm.err"
	grep -q "^50000 messages in 782 calls: $want, 0 errors; instances created: 1, discarded: {}" "$work/stress-$wasm.err"
}
step "GC stress: gc-stress" stress gc-stress "0 passed on, 50000 outputs, 0 dropped"
step "GC stress: mask-pii" stress mask-pii "0 passed on, 50000 outputs, 0 dropped"
step "GC stress: json-filter" stress json-filter "25000 passed on, 0 outputs, 25000 dropped" -c field=type -c equals=paid
step "GC stress: passthrough" stress passthrough "50000 passed on, 0 outputs, 0 dropped"
echo "     gc-stress $(grep -h "plugin counters" "$work/stress-gc-stress.err" 2>/dev/null || true)"

# Fresh projects from the templates, laid out as `sluice new plugin` lays them out.
template() {
	local kind=$1 name=my-$1 ident=my_$1 d=$work/new/my-$1
	mkdir -p "$d"
	for f in "$repo/sdk/go/template/$kind"/*; do
		b=$(basename "$f")
		b=${b//\{\{ident\}\}/$ident}
		sed -e "s/{{name}}/$name/g" -e "s/{{ident}}/$ident/g" "$f" >"$d/${b//\{\{name\}\}/$name}"
	done
	printf 'name = "%s"\nlang = "go"\nkind = "%s"\n' "$name" "$kind" >"$d/sluice-plugin.toml"
	printf '%s\n' '{"key":"order-1","properties":{"region":"eu"},"body":{"type":"paid"}}' \
		'{"key":"order-2","properties":{"region":"us"},"body":"plain"}' '{"key":"binary","body_base64":"//79AA=="}' >"$d/sample.jsonl"
	bash "$work/kit/build.sh" "$d" "$kind" "$d/$name.wasm"
	gorun "$d" test ./...
	local cfg=()
	[ "$kind" = filter ] && cfg=(-c property=region -c equals=eu)
	"$sluice" plugin test "$d/$name.wasm" --input "$d/sample.jsonl" "${cfg[@]}"
}
step "template filter: build, go test, plugin test" template filter
step "template transform: build, go test, plugin test" template transform

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]

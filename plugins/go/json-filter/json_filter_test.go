package json_filter

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"sluice.local/sluice"
)

func TestKeepsEqualDropsOtherRejectsNonJSON(t *testing.T) {
	out, err := sluice.RunFilter(New, []string{"field=order.status", "equals=paid"},
		sluice.NewTestMessage(`{"order":{"status":"paid"}}`),
		sluice.NewTestMessage(`{"order":{"status":"new"}}`),
		sluice.NewTestMessage(`{"other":1}`),
		sluice.NewTestMessage("not json"),
		sluice.NewTestMessage(""),
		sluice.NewTestMessage("\xff\xfe"),
	)
	if err != nil {
		t.Fatal(err)
	}
	kinds := []sluice.OutcomeKind{}
	for _, o := range out {
		kinds = append(kinds, o.Kind)
	}
	want := []sluice.OutcomeKind{sluice.OutcomeUnchanged, sluice.OutcomeDrop, sluice.OutcomeDrop, sluice.OutcomeReject, sluice.OutcomeReject, sluice.OutcomeReject}
	if !reflect.DeepEqual(kinds, want) {
		t.Fatalf("got %v", out)
	}
	if !strings.HasPrefix(out[3].Reason, "body is not JSON: ") || out[4].Reason != "body is empty, not JSON" {
		t.Errorf("reasons %q %q", out[3].Reason, out[4].Reason)
	}
}

func TestConfigIsChecked(t *testing.T) {
	for _, cfg := range [][]string{{"equals=1"}, {"field=a"}, {"field=", "equals=1"}, {"field=a", "equals=1", "colour=red"}} {
		_, err := sluice.RunFilter(New, cfg)
		var ce *sluice.ConfigError
		if !errors.As(err, &ce) {
			t.Errorf("%q accepted: %v", cfg, err)
		}
	}
}

func TestDocumentsAcceptedAsSerdeJSONDoes(t *testing.T) {
	deep := func(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }
	ok := []string{`{"a":1}`, " [1, 2]\n", `"x"`, `0`, `-0`, `1e5`, `1E+5`, `1.5e-3`, `"\ud83d\ude00"`, `"\u00E9\/"`,
		`{"a":{"a":{}}}`, deep(127), `1e-400`, `0e999999999999`, `1e-999999999999`, `123456789012345678901234567890`,
		"\"\x7f\"", `{"a":1,"a":2}`, `[]`, `{}`, `null`, `true`, `false`}
	bad := []string{``, ` `, `{`, `[1,]`, `{"a":1,}`, `01`, `-01`, `-`, `1.`, `.5`, `+1`, `1e`, `1e+`, `NaN`, `Infinity`,
		`-Infinity`, `'a'`, `"\ud800"`, `"\udc00"`, `"\ud800\u0041"`, `"\ud800x"`, "\"a\x01\"", `"\x"`, `"\u12G4"`, `tru`,
		`nul`, `{"a" 1}`, `{1:2}`, `1e400`, `1e999999999999`, `[1] x`, `{"a":1}{"a":1}`, deep(128), "\xef\xbb\xbf{}",
		"\"\xff\"", `[1 2]`, `{"a":1 "b":2}`, `"abc`, `[`, `1.0e`, `-.5`}
	for _, s := range ok {
		if _, err := parse([]byte(s)); err != nil {
			t.Errorf("%q refused: %v", s, err)
		}
	}
	for _, s := range bad {
		if v, err := parse([]byte(s)); err == nil {
			t.Errorf("%q accepted as %#v", s, v)
		}
	}
}

func TestValuesCompareAsSerdeJSONDoes(t *testing.T) {
	same := [][2]string{{`42.0`, `4.2e1`}, {`-0`, `0.0`}, {`{"a":1,"b":[1,2]}`, `{"b":[1,2],"a":1}`},
		{`{"a":1,"a":2}`, `{"a":2}`}, {`"pa\u0069d"`, `"paid"`}, {`18446744073709551615`, `18446744073709551615`},
		{`-9223372036854775808`, `-9223372036854775808`},
		// serde_json's fast float parsing, not correctly rounded: both read 5.33161569096426e44.
		{`53316156909642602e28`, `5.33161569096426e+44`}}
	differ := [][2]string{{`42`, `42.0`}, {`0`, `-0`}, {`1`, `true`}, {`"42"`, `42`}, {`null`, `false`}, {`[1,2]`, `[2,1]`},
		{`{"a":1}`, `{"a":1,"b":2}`}, {`18446744073709551616`, `18446744073709551615`},
		{`-9223372036854775809`, `-9223372036854775808`}}
	check := func(pair [2]string, want bool) {
		a, err := parse([]byte(pair[0]))
		if err != nil {
			t.Fatal(pair[0], err)
		}
		b, err := parse([]byte(pair[1]))
		if err != nil {
			t.Fatal(pair[1], err)
		}
		if equal(a, b) != want {
			t.Errorf("%s == %s should be %v", pair[0], pair[1], want)
		}
	}
	for _, p := range same {
		check(p, true)
	}
	for _, p := range differ {
		check(p, false)
	}
}

func TestPointers(t *testing.T) {
	doc, _ := parse([]byte(`{"a~b":{"c/d":"x"},"items":[{"sku":"A-1"}],"a":{"b.c":"y"}}`))
	for ptr, want := range map[string]any{"/a~0b/c~1d": "x", "/items/0/sku": "A-1", "/a/b.c": "y"} {
		if got, ok := pointer(doc, ptr); !ok || got != want {
			t.Errorf("%s: %v %v", ptr, got, ok)
		}
	}
	for _, ptr := range []string{"/items/00/sku", "/items/+0/sku", "/items/1", "/items/x", "a", "/a/b/c", "/items/0/sku/x"} {
		if got, ok := pointer(doc, ptr); ok {
			t.Errorf("%s found %v", ptr, got)
		}
	}
	if got, ok := pointer(doc, ""); !ok || !equal(got, doc) {
		t.Error("the empty pointer is the whole document")
	}
}

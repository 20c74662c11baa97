package {{ident}}

import (
	"reflect"
	"testing"

	"sluice.local/sluice"
)

func TestKeepsTheMatchingProperty(t *testing.T) {
	out, err := sluice.RunFilter(New, []string{"property=region", "equals=eu"},
		sluice.NewTestMessage("a").WithProperty("region", "eu"),
		sluice.NewTestMessage("b").WithProperty("region", "us"),
		sluice.NewTestMessage("c"),
	)
	if err != nil {
		t.Fatal(err)
	}
	want := []sluice.TestOutcome{{Kind: sluice.OutcomeUnchanged}, {Kind: sluice.OutcomeDrop}, {Kind: sluice.OutcomeDrop}}
	if !reflect.DeepEqual(out, want) {
		t.Errorf("got %v, want %v", out, want)
	}
}

func TestRefusesAMissingKey(t *testing.T) {
	if _, err := sluice.RunFilter(New, []string{"property=region"}); err == nil {
		t.Error("a configuration without `equals` was accepted")
	}
}

package passthrough

import (
	"errors"
	"reflect"
	"testing"

	"sluice.local/sluice"
)

func TestEverythingUnchangedAndConfigRefused(t *testing.T) {
	out, err := sluice.RunTransform(New, nil, sluice.NewTestMessage("a"), sluice.NewTestMessage("\xff"))
	if err != nil {
		t.Fatal(err)
	}
	want := []sluice.TestOutcome{{Kind: sluice.OutcomeUnchanged}, {Kind: sluice.OutcomeUnchanged}}
	if !reflect.DeepEqual(out, want) {
		t.Errorf("got %v", out)
	}
	_, err = sluice.RunTransform(New, []string{"x=1"})
	var ce *sluice.ConfigError
	if !errors.As(err, &ce) || ce.Key != "x" {
		t.Errorf("unknown key accepted: %v", err)
	}
}

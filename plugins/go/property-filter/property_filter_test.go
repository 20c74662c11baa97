package property_filter

import (
	"reflect"
	"testing"

	"sluice.local/sluice"
)

func TestFiltersOnTheProperty(t *testing.T) {
	msgs := []sluice.TestMessage{
		sluice.NewTestMessage("").WithProperty("region", "eu"),
		sluice.NewTestMessage("").WithProperty("region", "us"),
		sluice.NewTestMessage(""),
	}
	keep, drop := sluice.TestOutcome{Kind: sluice.OutcomeUnchanged}, sluice.TestOutcome{Kind: sluice.OutcomeDrop}
	out, err := sluice.RunFilter(New, []string{"property=region", "equals=eu"}, msgs...)
	if err != nil || !reflect.DeepEqual(out, []sluice.TestOutcome{keep, drop, drop}) {
		t.Errorf("%v %v", out, err)
	}
	out, err = sluice.RunFilter(New, []string{"property=region", "equals=eu", "missing=keep"}, msgs...)
	if err != nil || !reflect.DeepEqual(out[2], keep) {
		t.Errorf("%v %v", out, err)
	}
	if _, err := sluice.RunFilter(New, []string{"property=region", "equals=eu", "missing=maybe"}); err == nil {
		t.Error("missing=maybe accepted")
	}
}

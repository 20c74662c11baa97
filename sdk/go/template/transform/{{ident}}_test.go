package {{ident}}

import (
	"testing"

	"sluice.local/sluice"
)

func TestAddsTheProperty(t *testing.T) {
	out, err := sluice.RunTransform(New, nil, sluice.NewTestMessage("a").WithProperty("region", "eu"))
	if err != nil {
		t.Fatal(err)
	}
	if out[0].Kind != sluice.OutcomeReplaced || len(out[0].Outputs) != 1 {
		t.Fatalf("got %v", out)
	}
	props := out[0].Outputs[0].Properties
	want := []sluice.Property{{Key: "region", Value: "eu"}, {Key: "processed-by", Value: "{{name}}"}}
	if len(props) != 2 || props[0] != want[0] || props[1] != want[1] {
		t.Errorf("properties %v, want %v", props, want)
	}
}

package gc_stress

import (
	"testing"

	"sluice.local/sluice"
)

func TestUppercases(t *testing.T) {
	out, err := sluice.RunTransform(New, []string{"garbage=2"}, sluice.NewTestMessage("abc"))
	if err != nil || string(out[0].Outputs[0].Body) != "ABC" {
		t.Fatalf("%v %v", out, err)
	}
}

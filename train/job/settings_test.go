package job

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestDiffSettingsNewFields(t *testing.T) {
	old := runSettings{Seed: 1, Workers: 2}
	stored, _ := json.Marshal(old)
	if d, err := diffSettings(stored, old); err != nil || len(d) != 0 {
		t.Fatalf("same settings differ: %v %v", d, err)
	}
	// A setting at its default is left out, so checkpoints written before
	// it existed still match; one in either run alone is a difference.
	withAMP := old
	withAMP.AMP = AMPFP16
	d, _ := diffSettings(stored, withAMP)
	if len(d) != 1 || !strings.HasPrefix(d[0], "AMP") {
		t.Fatalf("diff %q, want AMP", d)
	}
	storedAMP, _ := json.Marshal(withAMP)
	d, _ = diffSettings(storedAMP, old)
	if len(d) != 1 || !strings.HasPrefix(d[0], "AMP") {
		t.Fatalf("diff %q, want AMP (stored only)", d)
	}
}

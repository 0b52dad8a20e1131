package tune

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestStateRoundTripsAndDetectsDamage(t *testing.T) {
	st := &State{Space: testSpace(), Defaults: testDefaults, Rungs: []int{1, 3}, Bracket: 9, Eta: 3, Seed: 4,
		Settings: map[string]string{"train": "t<&>.txt"}, Budget: 60,
		Trials: []Trial{{ID: 1, Rung: 1, Point: testDefaults, Epochs: 3, Status: StatusDone, DevAccuracy: 0.8125, EpochsDone: 3, Seconds: 12.5}}}
	path := filepath.Join(t.TempDir(), StateName)
	if err := st.Save(path); err != nil {
		t.Fatal(err)
	}
	got, err := LoadState(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, st) {
		t.Fatalf("loaded %+v, saved %+v", got, st)
	}
	raw, _ := os.ReadFile(path)
	cases := []struct {
		name string
		raw  []byte
		msg  string
	}{
		{"edited", bytes.Replace(raw, []byte("0.8125"), []byte("0.9125"), 1), "checksum"},
		{"truncated", raw[:len(raw)/2], "not a tune state file"},
		{"newer", bytes.Replace(raw, []byte(`"version": 1`), []byte(`"version": 2`), 1), "version 2"},
		{"other file", []byte(`{"format": "something", "version": 1}`), "not a trainer-tune-state"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			bad := filepath.Join(t.TempDir(), StateName)
			os.WriteFile(bad, c.raw, 0o644)
			if _, err := LoadState(bad); err == nil || !strings.Contains(err.Error(), c.msg) {
				t.Fatalf("got %v, want an error saying %q", err, c.msg)
			}
		})
	}
}

func ExampleWriteLeaderboard() {
	defaults := Point{"lr": "0.002", "pool": "mean"}
	s := &State{Defaults: defaults, Trials: []Trial{
		{ID: 1, Point: defaults, Epochs: 5, Status: StatusDone, DevAccuracy: 0.8303, Seconds: 610},
		{ID: 2, Point: Point{"lr": "0.0031", "pool": "max"}, Epochs: 1, Status: StatusDone, DevAccuracy: 0.8011, Seconds: 95},
		{ID: 12, Point: Point{"lr": "0.0031", "pool": "max"}, Epochs: 5, Status: StatusDone, DevAccuracy: 0.8412, Seconds: 540},
		{ID: 3, Point: Point{"lr": "0.0009", "pool": "last"}, Epochs: 1, Status: StatusCut, Seconds: 40},
	}}
	WriteLeaderboard(os.Stdout, s, 10)
	// Output:
	//   rank  trial  dev acc  epochs  seconds  flags
	//      1     12   84.12%       5      540  --lr=0.0031 --pool=max
	//      2      1   83.03%       5      610  (defaults)
	//      3      2   80.11%       1       95  --lr=0.0031 --pool=max
}

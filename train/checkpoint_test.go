package train

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"trainer/train/device"
)

func sampleCheckpoint() *Checkpoint {
	return &Checkpoint{
		Step: 42, Epoch: 1, Batch: 7, Seed: 99, Workers: 2,
		Model:  json.RawMessage(`{"hidden":8}`),
		Run:    json.RawMessage(`{"batch_size":4}`),
		Loop:   LoopState{BestAccuracy: 0.75, BestEpoch: 1, EpochLoss: 3.5, EpochRows: 28},
		Optim:  device.OptimState{Kind: "adamw", Steps: 42, Slots: [][]float32{{0.1, -0.2, 0}, {1e-8, 2, float32(math.Inf(1))}}},
		Params: []float32{1.5, -2.25, float32(math.SmallestNonzeroFloat32)},
	}
}

func TestCheckpointRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), CheckpointName)
	want := sampleCheckpoint()
	if err := SaveCheckpoint(path, want); err != nil {
		t.Fatal(err)
	}
	got, err := LoadCheckpoint(path)
	if err != nil {
		t.Fatal(err)
	}
	wj, _ := json.Marshal(want)
	gj, _ := json.Marshal(got)
	if string(wj) != string(gj) {
		t.Fatalf("header\n got %s\nwant %s", gj, wj)
	}
	eq := func(a, b []float32) bool {
		if len(a) != len(b) {
			return false
		}
		for i := range a {
			if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
				return false
			}
		}
		return true
	}
	if !eq(got.Params, want.Params) || len(got.Optim.Slots) != 2 || !eq(got.Optim.Slots[0], want.Optim.Slots[0]) || !eq(got.Optim.Slots[1], want.Optim.Slots[1]) {
		t.Fatalf("arrays differ: %+v", got)
	}
	// No temporary files left behind.
	ents, _ := os.ReadDir(filepath.Dir(path))
	if len(ents) != 1 {
		t.Fatalf("directory holds %d entries", len(ents))
	}
}

func TestCheckpointRejectsDamage(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, CheckpointName)
	if err := SaveCheckpoint(path, sampleCheckpoint()); err != nil {
		t.Fatal(err)
	}
	good, _ := os.ReadFile(path)
	flip := append([]byte(nil), good...)
	flip[len(flip)/2] ^= 0x40
	version := append([]byte(nil), good...)
	version[len(checkpointMagic)] = 9
	cases := []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "bad magic"},
		{"foreign", []byte("PK\x03\x04 some zip file"), "bad magic"},
		{"truncated", good[:len(good)-9], "checksum"},
		{"flipped bit", flip, "checksum"},
		{"other version", version, "version 9"},
	}
	for _, c := range cases {
		p := filepath.Join(dir, c.name)
		os.WriteFile(p, c.data, 0o644)
		_, err := LoadCheckpoint(p)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), p) {
			t.Errorf("%s: error %v, want one naming the file and %q", c.name, err, c.want)
		}
	}
}

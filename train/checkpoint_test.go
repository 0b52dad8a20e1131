package train

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"trainer/internal/durable"
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
	version[8] = 9
	cases := []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "not a trainer checkpoint"},
		{"foreign", []byte("PK\x03\x04 some zip file"), "not a trainer checkpoint"},
		{"model file", durable.Format{Magic: "TRNRMDL\x00", Version: 2}.Append(nil, []byte("{}")), "not a trainer checkpoint"},
		{"truncated", good[:len(good)-9], fmt.Sprintf("truncated: header says %d bytes, file has %d", len(good), len(good)-9)},
		{"flipped bit", flip, "damaged: checksum mismatch"},
		{"newer version", version, "written by a newer version 9 of the trainer checkpoint format"},
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

func TestLoadCheckpointReadsFormatVersion1(t *testing.T) {
	// testdata/checkpoint-v1.bin was written by the build before the
	// shared framing (magic, version, body, CRC-32C trailer).
	got, err := LoadCheckpoint("testdata/checkpoint-v1.bin")
	if err != nil {
		t.Fatal(err)
	}
	wj, _ := json.Marshal(sampleCheckpoint())
	gj, _ := json.Marshal(got)
	if string(wj) != string(gj) || len(got.Params) != 3 || len(got.Optim.Slots) != 2 || got.Params[1] != -2.25 {
		t.Fatalf("got %s with params %v", gj, got.Params)
	}
	raw, _ := os.ReadFile("testdata/checkpoint-v1.bin")
	flip := bytes.Clone(raw)
	flip[40] ^= 1
	for name, b := range map[string][]byte{"flipped": flip, "cut": raw[:len(raw)-6], "cut in the header": raw[:14]} {
		if _, err := decodeCheckpoint(b); err == nil || !strings.Contains(err.Error(), "trainer checkpoint format version 1:") {
			t.Errorf("%s: error %v, want one naming format version 1", name, err)
		}
	}
}

func TestSaveCheckpointRemovesStaleTemporaries(t *testing.T) {
	// A run killed while writing (kill -9) leaves its temporary file; the
	// next save of the same checkpoint removes it, and nothing else.
	dir := t.TempDir()
	stale := filepath.Join(dir, ".checkpoint.bin.tmp2946130589")
	other := filepath.Join(dir, ".model.bin.tmp123")
	old := time.Now().Add(-24 * time.Hour)
	for _, p := range []string{stale, other} {
		os.WriteFile(p, []byte("half a checkpoint"), 0o600)
		os.Chtimes(p, old, old)
	}
	if err := SaveCheckpoint(filepath.Join(dir, CheckpointName), sampleCheckpoint()); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("stale temporary file kept: %v", err)
	}
	if _, err := os.Stat(other); err != nil {
		t.Errorf("another target's temporary file removed: %v", err)
	}
}

// FuzzLoadCheckpoint feeds the checkpoint reader arbitrary bytes: it must
// return a checkpoint or an error, never panic or allocate without bound,
// and whatever it accepts must encode and decode again to the same arrays.
func FuzzLoadCheckpoint(f *testing.F) {
	var body bytes.Buffer
	if err := encodeCheckpoint(&body, sampleCheckpoint()); err != nil {
		f.Fatal(err)
	}
	good := checkpointFormat.Append(nil, body.Bytes())
	f.Add(good)
	f.Add(good[:len(good)/2])
	if v1, err := os.ReadFile("testdata/checkpoint-v1.bin"); err == nil {
		f.Add(v1)
	}
	f.Add([]byte("TRNCKPT\x00\x09\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		c, err := decodeCheckpoint(raw)
		if err != nil {
			return
		}
		var body bytes.Buffer
		if err := encodeCheckpoint(&body, c); err != nil {
			t.Fatalf("an accepted checkpoint does not encode: %v", err)
		}
		again, err := decodeCheckpoint(checkpointFormat.Append(nil, body.Bytes()))
		if err != nil {
			t.Fatalf("an accepted checkpoint does not decode after encoding: %v", err)
		}
		if len(again.Params) != len(c.Params) || len(again.Optim.Slots) != len(c.Optim.Slots) || again.Step != c.Step {
			t.Fatalf("re-encoding changed the checkpoint")
		}
	})
}

func TestCheckResume(t *testing.T) {
	in := func(pairs ...string) []InputDigest {
		var ds []InputDigest
		for i := 0; i < len(pairs); i += 2 {
			ds = append(ds, InputDigest{Role: pairs[i], Path: pairs[i] + ".txt", Digest: pairs[i+1]})
		}
		return ds
	}
	ck := &Checkpoint{Epochs: 2, Inputs: in("train", "xxh3-128:aa", "test", "xxh3-128:cc")}
	cases := []struct {
		name   string
		ck     *Checkpoint
		epochs int
		inputs []InputDigest
		errHas string // "" = accepted
	}{
		{"same run", ck, 2, in("test", "xxh3-128:cc", "train", "xxh3-128:aa"), ""},
		{"more epochs", ck, 3, in("train", "xxh3-128:aa", "test", "xxh3-128:cc"), "--epochs 3, but the run was started with --epochs 2"},
		{"fewer epochs", ck, 1, in("train", "xxh3-128:aa", "test", "xxh3-128:cc"), "--epochs 1"},
		{"train changed", ck, 2, in("train", "xxh3-128:ab", "test", "xxh3-128:cc"), "train data changed since the checkpoint"},
		{"test changed", ck, 2, in("train", "xxh3-128:aa", "test", "xxh3-128:cd"), "test data changed"},
		{"dev added", ck, 2, in("train", "xxh3-128:aa", "dev", "xxh3-128:dd", "test", "xxh3-128:cc"), "has a dev file (dev.txt) that the interrupted run did not"},
		{"test dropped", ck, 2, in("train", "xxh3-128:aa"), "had a test file (test.txt) that this run lacks"},
		{"older checkpoint", &Checkpoint{}, 2, in("train", "xxh3-128:aa"), "records neither"},
	}
	for _, c := range cases {
		err := CheckResume(c.ck, c.epochs, c.inputs)
		switch {
		case c.errHas == "" && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.errHas != "" && (!errors.Is(err, ErrResumeMismatch) || !strings.Contains(err.Error(), c.errHas)):
			t.Errorf("%s: %v, want ErrResumeMismatch with %q", c.name, err, c.errHas)
		}
	}
	// The fields survive the file.
	path := filepath.Join(t.TempDir(), CheckpointName)
	c := sampleCheckpoint()
	c.Epochs, c.Inputs = ck.Epochs, ck.Inputs
	if err := SaveCheckpoint(path, c); err != nil {
		t.Fatal(err)
	}
	got, err := LoadCheckpoint(path)
	if err != nil || CheckResume(got, 2, ck.Inputs) != nil || CheckResume(got, 3, ck.Inputs) == nil {
		t.Fatalf("round trip: %v %+v", err, got)
	}
}

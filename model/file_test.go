package model

import (
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func testFile(t *testing.T) *File {
	t.Helper()
	c := Config{VocabSize: 5, EmbedDim: 3, Hidden: 4, Layers: 2, Bidirectional: true, Pool: PoolMean}
	params := make([]float32, NewLayout(c).Size())
	InitParams(c, params, 9)
	return &File{
		Version: FileVersion, Config: c, Params: params,
		Vocab:   []string{"<pad>", "<unk>", "good", "bad", "ünïcode"},
		MaxLen:  256,
		Metrics: map[string]float64{"accuracy": 0.91, "loss": math.NaN(), "inf": math.Inf(1)},
		Extra:   map[string]string{"train": "train.ft.txt"},
	}
}

func TestFileRoundTrip(t *testing.T) {
	f := testFile(t)
	f.Preprocess.Lowercase = true
	f.Preprocess.Tokenizer = "split"
	path := filepath.Join(t.TempDir(), "model.bin")
	if err := Save(path, f); err != nil {
		t.Fatal(err)
	}
	g, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if !math.IsNaN(g.Metrics["loss"]) || !math.IsInf(g.Metrics["inf"], 1) {
		t.Errorf("non-finite metrics lost: %v", g.Metrics)
	}
	f.Metrics["loss"], g.Metrics["loss"] = 0, 0 // NaN != NaN
	if !reflect.DeepEqual(f, g) {
		t.Errorf("round trip changed the file:\n got %+v\nwant %+v", g, f)
	}
	// Saving again over the file replaces it and leaves no temporary files.
	if err := Save(path, g); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries after two saves, want 1", len(entries))
	}
}

func TestFileLoadRejects(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.bin")
	if err := Save(good, testFile(t)); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	mutate := func(f func(b []byte) []byte) []byte { return f(append([]byte(nil), raw...)) }
	tests := []struct {
		name    string
		content []byte
		want    string
	}{
		{"flipped byte in weights", mutate(func(b []byte) []byte { b[len(b)-7] ^= 0x10; return b }), "checksum mismatch"},
		{"flipped byte in header json", mutate(func(b []byte) []byte { b[headerSize+10] ^= 1; return b }), "checksum mismatch"},
		{"truncated body", raw[:len(raw)-100], "truncated"},
		{"truncated header", raw[:20], "truncated"},
		{"empty", nil, "truncated"},
		{"text file", []byte("__label__1 this is not a model\n"), "not a trainer model file"},
		{"random bytes", mutate(func(b []byte) []byte {
			for i := range b {
				b[i] = byte(i*7919 + 13)
			}
			return b
		}), "not a trainer model file"},
		{"future version", mutate(func(b []byte) []byte { binary.LittleEndian.PutUint32(b[8:], FileVersion+1); return b }), "version 2"},
		{"trailing bytes", append(append([]byte(nil), raw...), 0), "unexpected bytes"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_"))
			if err := os.WriteFile(path, tc.content, 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := Load(path)
			if err == nil {
				t.Fatal("Load accepted a bad file")
			}
			if !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), path) {
				t.Errorf("error %q should name %s and say %q", err, path, tc.want)
			}
		})
	}
	if _, err := Load(filepath.Join(dir, "missing.bin")); err == nil || !strings.Contains(err.Error(), "missing.bin") {
		t.Errorf("missing file: error %v should name the path", err)
	}
}

func TestSaveRejectsInconsistentFile(t *testing.T) {
	f := testFile(t)
	f.Params = f.Params[:10]
	path := filepath.Join(t.TempDir(), "m.bin")
	if err := Save(path, f); err == nil || !strings.Contains(err.Error(), "parameters") {
		t.Errorf("Save with short params: error %v", err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("a failed Save left %s behind", path)
	}
}

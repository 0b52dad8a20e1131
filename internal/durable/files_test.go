package durable_test

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"trainer/model"
	"trainer/train"
)

// TestKeptFilesFailClearly damages the model file and the checkpoint the
// same ways and expects the same plain error from each reader: one line
// naming the file and what is wrong with it.
func TestKeptFilesFailClearly(t *testing.T) {
	cfg := model.Config{VocabSize: 4, EmbedDim: 2, Hidden: 3, Layers: 1, Pool: model.PoolMean}
	mf := &model.File{Config: cfg, Params: make([]float32, model.NewLayout(cfg).Size()),
		Vocab: []string{"<pad>", "<unk>", "good", "bad"}}
	kinds := []struct {
		name  string // how errors call the kind of file
		file  string
		magic string
		save  func(path string) error
		load  func(path string) error
	}{
		{"trainer model file", "model.bin", "TRNRMDL\x00",
			func(p string) error { return model.Save(p, mf) },
			func(p string) error { _, err := model.Load(p); return err }},
		{"trainer checkpoint", train.CheckpointName, "TRNCKPT\x00",
			func(p string) error {
				return train.SaveCheckpoint(p, &train.Checkpoint{Step: 3, Params: []float32{1, 2, 3}})
			},
			func(p string) error { _, err := train.LoadCheckpoint(p); return err }},
	}
	for _, k := range kinds {
		dir := t.TempDir()
		path := filepath.Join(dir, k.file)
		if err := k.save(path); err != nil {
			t.Fatal(err)
		}
		if err := k.load(path); err != nil {
			t.Fatalf("%s: the file just saved does not load: %v", k.file, err)
		}
		good, _ := os.ReadFile(path)
		if string(good[:8]) != k.magic {
			t.Fatalf("%s opens with %q, want %q", k.file, good[:8], k.magic)
		}
		edit := func(f func([]byte) []byte) []byte { return f(append([]byte(nil), good...)) }
		cases := []struct {
			name string
			raw  []byte
			want string
		}{
			{"empty", nil, "not a " + k.name},
			{"foreign", []byte("__label__2 a review, not a kept file\n"), "not a " + k.name},
			{"truncated", good[:len(good)-5], fmt.Sprintf("truncated: header says %d bytes, file has %d", len(good), len(good)-5)},
			{"header cut", good[:16], "truncated: 16 bytes, shorter than the 32-byte header"},
			{"flipped bit", edit(func(b []byte) []byte { b[len(b)-2] ^= 0x80; return b }), "damaged: checksum mismatch"},
			{"damaged header", edit(func(b []byte) []byte { b[20] ^= 1; return b }), "damaged header"},
			{"trailing bytes", append(append([]byte(nil), good...), 'x'), "1 unexpected bytes at the end"},
			{"future version", edit(func(b []byte) []byte { binary.LittleEndian.PutUint32(b[8:], 40); return b }),
				"written by a newer version 40 of the " + k.name + " format"},
		}
		for _, c := range cases {
			t.Run(k.file+"/"+c.name, func(t *testing.T) {
				p := filepath.Join(dir, strings.ReplaceAll(c.name, " ", "-")+"-"+k.file)
				os.WriteFile(p, c.raw, 0o644)
				err := k.load(p)
				if err == nil {
					t.Fatal("accepted")
				}
				msg := err.Error()
				if !strings.Contains(msg, p+": "+c.want) || strings.Contains(msg, "\n") {
					t.Fatalf("error %q, want one line with %q", msg, p+": "+c.want)
				}
			})
		}
	}
}

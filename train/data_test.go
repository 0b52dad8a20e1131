package train

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"trainer/data"
)

func TestLoadData(t *testing.T) {
	dir := t.TempDir()
	corpus := filepath.Join(dir, "reviews.ft.txt")
	if _, err := data.SynthFile(context.Background(), corpus, data.SynthOptions{N: 200, Seed: 1, Workers: 1}); err != nil {
		t.Fatal(err)
	}
	dev := filepath.Join(dir, "dev.ft.txt")
	os.WriteFile(dev, []byte("__label__1 bad bad\n__label__2 good\n__label__2 fine\n"), 0o644)
	one := filepath.Join(dir, "one.ft.txt")
	os.WriteFile(one, []byte("__label__1 bad\n"), 0o644)
	prep := func(train string) data.PrepOptions {
		return data.PrepOptions{Train: train, CacheDir: filepath.Join(dir, "cache"), Workers: 1, Seed: 3, MinCount: 1}
	}
	cases := []struct {
		name        string
		cfg         DataConfig
		train, devN int
		err         string
	}{
		{"held-out fraction", DataConfig{Prep: prep(corpus), DevFraction: 0.25}, 150, 50, ""},
		{"dev file", DataConfig{Prep: prep(corpus), Dev: dev}, 200, 3, ""},
		{"missing dev file", DataConfig{Prep: prep(corpus), Dev: filepath.Join(dir, "nope")}, 0, 0, "dev set"},
		{"nothing left to train on", DataConfig{Prep: prep(one), DevFraction: 0.9}, 0, 0, "no training reviews left"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d, err := LoadData(context.Background(), c.cfg)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("error %v, want %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			if d.Train.Len() != c.train || d.Dev.Len() != c.devN {
				t.Fatalf("%d training and %d dev reviews, want %d and %d", d.Train.Len(), d.Dev.Len(), c.train, c.devN)
			}
			if n := len(EvalBatches(d.Dev, 2, 8)); n != (c.devN+1)/2 {
				t.Fatalf("%d evaluation batches of 2 for %d reviews", n, c.devN)
			}
		})
	}
	if EvalBatches(nil, 2, 8) != nil {
		t.Fatal("a missing set has evaluation batches")
	}
}

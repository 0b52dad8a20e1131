package model

import (
	"fmt"
	"strings"
	"testing"
)

func TestConfigValidate(t *testing.T) {
	ok := ReferenceConfig(20000)
	tests := []struct {
		name string
		edit func(*Config)
		want string // "" means valid
	}{
		{"default", func(c *Config) {}, ""},
		{"bidirectional max pool", func(c *Config) { c.Bidirectional, c.Pool, c.Layers = true, PoolMax, 3 }, ""},
		{"empty pool means last", func(c *Config) { c.Pool = "" }, ""},
		{"hidden 0", func(c *Config) { c.Hidden = 0 }, "hidden size"},
		{"vocab 1", func(c *Config) { c.VocabSize = 1 }, "vocabulary size 1"},
		{"vocab 2", func(c *Config) { c.VocabSize = 2 }, "at least 3"},
		{"embed 0", func(c *Config) { c.EmbedDim = 0 }, "embedding dimension"},
		{"layers 0", func(c *Config) { c.Layers = 0 }, "layers"},
		{"huge hidden", func(c *Config) { c.Hidden = 1 << 20 }, "too large"},
		{"unknown pool", func(c *Config) { c.Pool = "attention" }, "unknown pooling"},
		{"unigrams", func(c *Config) { c.Ngrams = 1 }, ""},
		{"trigrams", func(c *Config) { c.Ngrams, c.Buckets = 3, 1<<20 }, ""},
		{"negative ngrams", func(c *Config) { c.Ngrams = -1 }, "ngrams must be 0 (off) to 3"},
		{"4-grams", func(c *Config) { c.Ngrams, c.Buckets = 4, 100 }, "ngrams must be 0 (off) to 3"},
		{"bigrams without buckets", func(c *Config) { c.Ngrams = 2 }, "needs 1 to"},
		{"too many buckets", func(c *Config) { c.Ngrams, c.Buckets = 2, 1<<27 }, "needs 1 to"},
		{"buckets without ngrams", func(c *Config) { c.Buckets = 10 }, "buckets need ngrams of 2 or more"},
		{"buckets with unigrams", func(c *Config) { c.Ngrams, c.Buckets = 1, 10 }, "buckets need ngrams of 2 or more"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := ok
			tc.edit(&c)
			err := c.Validate()
			if tc.want == "" {
				if err != nil {
					t.Fatalf("valid config rejected: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestLayout(t *testing.T) {
	c := Config{VocabSize: 7, EmbedDim: 3, Hidden: 4, Layers: 2, Bidirectional: true}
	l := NewLayout(c)
	want := []struct {
		name  string
		shape []int
	}{
		{"embed", []int{7, 3}},
		{"lstm.0.fwd.w_ih", []int{16, 3}}, {"lstm.0.fwd.w_hh", []int{16, 4}}, {"lstm.0.fwd.b", []int{16}},
		{"lstm.0.bwd.w_ih", []int{16, 3}}, {"lstm.0.bwd.w_hh", []int{16, 4}}, {"lstm.0.bwd.b", []int{16}},
		{"lstm.1.fwd.w_ih", []int{16, 8}}, {"lstm.1.fwd.w_hh", []int{16, 4}}, {"lstm.1.fwd.b", []int{16}},
		{"lstm.1.bwd.w_ih", []int{16, 8}}, {"lstm.1.bwd.w_hh", []int{16, 4}}, {"lstm.1.bwd.b", []int{16}},
		{"head.w", []int{1, 8}}, {"head.b", []int{1}},
	}
	views := l.Views()
	if len(views) != len(want) {
		t.Fatalf("%d views, want %d", len(views), len(want))
	}
	off := 0
	for i, w := range want {
		v := views[i]
		n := 1
		for _, s := range w.shape {
			n *= s
		}
		if v.Name != w.name || v.Offset != off || v.Len != n || len(v.Shape) != len(w.shape) {
			t.Errorf("view %d = %+v, want %s %v at %d", i, v, w.name, w.shape, off)
		}
		if l.View(w.name).Offset != off {
			t.Errorf("View(%q) offset %d, want %d", w.name, l.View(w.name).Offset, off)
		}
		off += n
	}
	if l.Size() != off {
		t.Errorf("Size %d, want %d", l.Size(), off)
	}
	buf := make([]float32, l.Size())
	for layer := 0; layer < c.Layers; layer++ {
		for d := 0; d < 2; d++ {
			w := l.LSTM(buf, layer, d)
			p := fmt.Sprintf("lstm.%d.%s.", layer, DirName(d))
			for name, got := range map[string][]float32{"w_ih": w.Wih, "w_hh": w.Whh, "b": w.B} {
				v := l.View(p + name)
				if &got[0] != &buf[v.Offset] || len(got) != v.Len {
					t.Errorf("LSTM(%d, %d).%s is not view %s", layer, d, name, v.Name)
				}
			}
			if w.In != c.InDim(layer) || w.Hidden != c.Hidden {
				t.Errorf("LSTM(%d, %d): In %d Hidden %d", layer, d, w.In, w.Hidden)
			}
		}
	}
}

func TestInitParams(t *testing.T) {
	c := Config{VocabSize: 50, EmbedDim: 8, Hidden: 16, Layers: 2}
	l := NewLayout(c)
	a := make([]float32, l.Size())
	b := make([]float32, l.Size())
	InitParams(c, a, 7)
	InitParams(c, b, 7)
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("same seed, different value at %d", i)
		}
	}
	InitParams(c, b, 8)
	same := 0
	for i := range a {
		if a[i] == b[i] {
			same++
		}
	}
	if same > l.Size()/2 {
		t.Errorf("seeds 7 and 8 share %d of %d values", same, l.Size())
	}
	for _, v := range l.View("embed").Slice(a)[:c.EmbedDim] {
		if v != 0 {
			t.Fatal("pad embedding row is not zero")
		}
	}
	for layer := 0; layer < c.Layers; layer++ {
		w := l.LSTM(a, layer, 0)
		h := c.Hidden
		for i, v := range w.B {
			want := float32(0)
			if i >= h && i < 2*h {
				want = 1
			}
			if v != want {
				t.Fatalf("layer %d bias[%d] = %g, want %g", layer, i, v, want)
			}
		}
		// Each gate block of W_hh is orthogonal: Q^T Q = I.
		for g := 0; g < 4; g++ {
			q := w.Whh[g*h*h : (g+1)*h*h]
			for i := 0; i < h; i++ {
				for j := 0; j < h; j++ {
					var dot float64
					for r := 0; r < h; r++ {
						dot += float64(q[r*h+i]) * float64(q[r*h+j])
					}
					want := 0.0
					if i == j {
						want = 1
					}
					if d := dot - want; d > 1e-5 || d < -1e-5 {
						t.Fatalf("layer %d gate %d: (Q^T Q)[%d][%d] = %g", layer, g, i, j, dot)
					}
				}
			}
		}
	}
}

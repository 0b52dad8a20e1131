package data

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"path/filepath"
	"strings"
	"testing"
)

func TestSynthDeterministicAndShaped(t *testing.T) {
	cases := []struct {
		n       int64
		seed    uint64
		workers int
	}{
		{1, 1, 1}, {5000, 1, 1}, {5000, 1, 3}, {9000, 2, 2},
	}
	outputs := map[uint64][]byte{}
	for _, c := range cases {
		var buf bytes.Buffer
		st, err := WriteSynth(context.Background(), &buf, SynthOptions{N: c.n, Seed: c.seed, Workers: c.workers})
		if err != nil {
			t.Fatal(err)
		}
		if st.Reviews != c.n || st.Bytes != int64(buf.Len()) {
			t.Fatalf("%+v: stats %+v for %d bytes", c, st, buf.Len())
		}
		lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
		if int64(len(lines)) != c.n {
			t.Fatalf("%+v: %d lines", c, len(lines))
		}
		for i, l := range lines {
			if !strings.HasPrefix(l, "__label__1 ") && !strings.HasPrefix(l, "__label__2 ") || !strings.Contains(l, ": ") {
				t.Fatalf("%+v line %d not Amazon-shaped: %q", c, i+1, l)
			}
		}
		if c.n >= 5000 {
			pos := float64(st.Labels[1]) / float64(st.Reviews)
			if pos < 0.47 || pos > 0.53 {
				t.Fatalf("%+v: positive share %.3f", c, pos)
			}
			if st.MeanBody < 65 || st.MeanBody > 85 {
				t.Fatalf("%+v: mean body %.1f words", c, st.MeanBody)
			}
			perReview := float64(st.Bytes) / float64(st.Reviews)
			if perReview < 350 || perReview > 550 {
				t.Fatalf("%+v: %.0f bytes per review, want Amazon-like ~440", c, perReview)
			}
		}
		if c.n == 5000 {
			if prev, ok := outputs[c.seed]; ok && !bytes.Equal(prev, buf.Bytes()) {
				t.Fatalf("seed %d: output depends on the worker count", c.seed)
			}
			outputs[c.seed] = bytes.Clone(buf.Bytes())
		}
	}
	var a bytes.Buffer
	WriteSynth(context.Background(), &a, SynthOptions{N: 5000, Seed: 2})
	if bytes.Equal(a.Bytes(), outputs[1]) {
		t.Fatal("different seeds gave the same corpus")
	}
}

// TestSynthPolarWordsFollowLabels checks that the label is learnable: the
// words that appear mostly in one class exist and do so strongly.
func TestSynthPolarWordsFollowLabels(t *testing.T) {
	var buf bytes.Buffer
	WriteSynth(context.Background(), &buf, SynthOptions{N: 4000, Seed: 3})
	var count [2]map[string]int
	count[0], count[1] = map[string]int{}, map[string]int{}
	sc := bufio.NewScanner(&buf)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		c := f[0][len(f[0])-1] - '1'
		for _, w := range f[1:] {
			count[c][strings.ToLower(strings.Trim(w, ".,!?:"))]++
		}
	}
	m := newSynthModel(3)
	var own, other int
	for _, id := range m.polar[1] {
		own += count[1][m.words[id]]
		other += count[0][m.words[id]]
	}
	ratio := float64(own) / float64(max(other, 1))
	if ratio < 2 || ratio > 6 {
		t.Fatalf("positive polar words: %d in positive reviews, %d in negative (ratio %.1f, want 2 to 6)", own, other, ratio)
	}
}

func BenchmarkSynth(b *testing.B) {
	var st SynthStats
	for i := 0; i < b.N; i++ {
		var err error
		st, err = WriteSynth(context.Background(), discard{}, SynthOptions{N: 20_000, Seed: 1})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(st.Bytes)
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

func TestSynthRereadsWithReader(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.txt")
	st, err := SynthFile(context.Background(), path, SynthOptions{N: 2000, Seed: 9, Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	r, err := Open(path, ReaderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var labels [2]int64
	rs := &oneByOne{r: r}
	for {
		rv, err := rs.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		labels[rv.Label]++
	}
	if s := r.Stats(); s.Records != 2000 || s.Kept != 2000 || labels != st.Labels {
		t.Fatalf("reader saw %+v labels %v; generator wrote %+v", s, labels, st)
	}
	if r.Format() != FormatFastText {
		t.Fatalf("format %q", r.Format())
	}
}

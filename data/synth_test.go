package data

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
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

// TestSynthMetaPlantsTrends checks the metadata export: valid JSON lines,
// the same bytes for any worker count, text identical to the fastText
// corpus of the same seed, ratings that follow the label, and planted
// products whose negative share changes when the plant says.
func TestSynthMetaPlantsTrends(t *testing.T) {
	plant, err := ParsePlant("product=P0002,from=2021-06,negative=0.9")
	if err != nil {
		t.Fatal(err)
	}
	meta := &SynthMeta{Products: 20, Plants: []Plant{plant}}
	var one, three, plain bytes.Buffer
	if _, err := WriteSynth(context.Background(), &one, SynthOptions{N: 20000, Seed: 5, Workers: 1, Meta: meta}); err != nil {
		t.Fatal(err)
	}
	WriteSynth(context.Background(), &three, SynthOptions{N: 20000, Seed: 5, Workers: 3, Meta: meta})
	WriteSynth(context.Background(), &plain, SynthOptions{N: 20000, Seed: 5})
	if !bytes.Equal(one.Bytes(), three.Bytes()) {
		t.Fatal("metadata output depends on the worker count")
	}
	type review struct {
		Asin    string  `json:"asin"`
		Overall float64 `json:"overall"`
		Time    int64   `json:"unixReviewTime"`
		Summary string  `json:"summary"`
		Text    string  `json:"reviewText"`
	}
	plainLines := strings.Split(plain.String(), "\n")
	from := plant.From.Unix()
	var before, after [2]int // negative, all
	products := map[string]int{}
	for i, line := range strings.Split(strings.TrimSuffix(one.String(), "\n"), "\n") {
		var r review
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("line %d: %v: %q", i+1, err, line)
		}
		if r.Time < DefaultSynthFrom.Unix() || r.Time >= DefaultSynthTo.Unix() || r.Overall < 1 || r.Overall > 5 || r.Summary == "" || r.Text == "" {
			t.Fatalf("line %d out of shape: %+v", i+1, r)
		}
		// The text comes from the fastText corpus's stream: where the labels
		// agree (rating 3 may be either), so do the words.
		_, ftText, _ := strings.Cut(plainLines[i], " ")
		ftNegative := plainLines[i][len("__label__")] == '1'
		if got := r.Summary + ": " + r.Text; r.Overall != 3 && ftNegative == (r.Overall < 3) && got != ftText {
			t.Fatalf("line %d: text %q differs from the fastText corpus's %q", i+1, got, ftText)
		}
		products[r.Asin]++
		if r.Asin == "P0002" {
			neg := 0
			if r.Overall <= 2 {
				neg = 1
			}
			if r.Time >= from {
				after[0] += neg
				after[1]++
			} else {
				before[0] += neg
				before[1]++
			}
		}
	}
	if len(products) != 20 || products["P0000"] <= products["P0019"] {
		t.Errorf("products %v: want 20, the first most popular", products)
	}
	// Ratings 1-2 are 90% of negative reviews.
	pb := float64(before[0]) / float64(before[1])
	pa := float64(after[0]) / float64(after[1])
	if pa < 0.9*0.9-0.05 || pa > 0.9*0.9+0.05 || pb > (synthBaseNeg+synthBaseSpan)*0.9+0.05 || before[1] < 300 || after[1] < 300 {
		t.Errorf("P0002 rated 1-2: %.3f of %d before, %.3f of %d after; planted 0.9 negative", pb, before[1], pa, after[1])
	}
}

func TestParsePlant(t *testing.T) {
	cases := []struct {
		spec, err string
	}{
		{"product=P0003,from=2021-06,negative=0.8", ""},
		{"product=P0003, from=2021-06, negative=0, to=2022-01", ""},
		{"product=P0003,from=2021-06", "negative= is missing"},
		{"from=2021-06,negative=0.8", "product= is missing"},
		{"product=P1,negative=0.8", "from=YYYY-MM is missing"},
		{"product=P1,from=2021-6,negative=0.8", "from"},
		{"product=P1,from=2021-06,negative=1.5", "not a share"},
		{"product=P1,from=2021-06,negative=0.5,to=2021-06", "to is not after from"},
		{"product=P1,from=2021-06,negative=0.5,colour=red", `unknown key "colour"`},
		{"P1", "not key=value"},
	}
	for _, c := range cases {
		p, err := ParsePlant(c.spec)
		switch {
		case c.err == "" && err != nil:
			t.Errorf("%q: %v", c.spec, err)
		case c.err == "" && (p.Product != "P0003" || p.From.Format("2006-01") != "2021-06"):
			t.Errorf("%q: %+v", c.spec, p)
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("%q: error %v, want %q", c.spec, err, c.err)
		}
	}
}

// TestSynthMetaHasProduct: only the names of the products set are products.
func TestSynthMetaHasProduct(t *testing.T) {
	m := SynthMeta{Products: 5}
	for name, want := range map[string]bool{"P0000": true, "P0004": true, "P0005": false, "P4": false,
		"P-001": false, "0003": false, "Q0003": false, "": false} {
		if got := m.HasProduct(name); got != want {
			t.Errorf("HasProduct(%q) with 5 products = %v, want %v", name, got, want)
		}
	}
	if (SynthMeta{}).HasProduct("P0000") {
		t.Error("a SynthMeta of 0 products has P0000")
	}
}

// TestPlantStringParses: a plant's String reads back as the same plant.
func TestPlantStringParses(t *testing.T) {
	p, err := ParsePlant("product=P0003,from=2021-06,negative=0.8")
	if err != nil {
		t.Fatal(err)
	}
	if s := p.String(); s != "product=P0003,from=2021-06,negative=0.8" {
		t.Fatalf("String() = %q", s)
	}
	if q, err := ParsePlant(p.String()); err != nil || q != p {
		t.Fatalf("ParsePlant(String()) = %+v, %v; want %+v", q, err, p)
	}
}

// TestPlantsCollects: every Set adds a plant, a bad one is refused and
// adds nothing, and String lists them as given.
func TestPlantsCollects(t *testing.T) {
	var ps Plants
	for _, spec := range []string{"product=P0001,from=2021-06,negative=0.9", "product=P0002,from=2020-01,negative=0.1"} {
		if err := ps.Set(spec); err != nil {
			t.Fatal(err)
		}
	}
	if err := ps.Set("product=P0003"); err == nil {
		t.Error("a plant without from= and negative= was accepted")
	}
	if s := ps.String(); len(ps) != 2 || s != "product=P0001,from=2021-06,negative=0.9 product=P0002,from=2020-01,negative=0.1" {
		t.Errorf("%d plants, String() = %q", len(ps), s)
	}
	if s := (*Plants)(nil).String(); s != "" {
		t.Errorf("nil String() = %q", s)
	}
}

package data

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

const realTrain = "../../shared/data/amazon_polarity/train.ft.txt"

func writeFile(t testing.TB, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func synthInput(t testing.TB, dir string, n int64, seed uint64) string {
	t.Helper()
	p := filepath.Join(dir, "synth.txt")
	if _, err := SynthFile(context.Background(), p, SynthOptions{N: n, Seed: seed}); err != nil {
		t.Fatal(err)
	}
	return p
}

// checkConsistent decodes the prepared training set with the vocabulary and
// compares it with a straightforward single-threaded encoding.
func checkConsistent(t *testing.T, path string, p *Prepared, pre Preprocess) {
	t.Helper()
	r, err := Open(path, ReaderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	tok := NewTokenizer(pre)
	i := 0
	rs := &oneByOne{r: r}
	for {
		rv, err := rs.Next()
		if err != nil {
			break
		}
		ids := p.Vocab.Encode(tok, rv.Text, nil)
		if len(ids) == 0 {
			continue
		}
		if i >= p.Train.Len() {
			t.Fatalf("more non-empty reviews than the dataset's %d", p.Train.Len())
		}
		if !reflect.DeepEqual(ids, p.Train.Review(i)) || p.Train.Labels[i] != rv.Label {
			t.Fatalf("review %d (line %d) encoded differently", i, rv.Line)
		}
		i++
	}
	if i != p.Train.Len() {
		t.Fatalf("%d reviews re-encoded, dataset has %d", i, p.Train.Len())
	}
}

func TestPrepareRealData(t *testing.T) {
	if _, err := os.Stat(realTrain); err != nil {
		t.Skipf("real data not found at %s: %v", realTrain, err)
	}
	dir := t.TempDir()
	o := PrepOptions{Train: realTrain, Test: realTrain, CacheDir: dir, Workers: 3, VocabSize: 5000}
	p, err := Prepare(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	r := p.Report
	if r.ReviewsRead != 5099 || r.Kept+r.DroppedTotal() != 5099 || r.Kept != int64(p.Train.Len()) {
		t.Fatalf("read %d, kept %d, dropped %v; want 5099 read", r.ReviewsRead, r.Kept, r.Dropped)
	}
	if r.Labels.Negative+r.Labels.Positive != r.Kept || r.Labels.Negative < 2000 || r.Labels.Positive < 2000 {
		t.Fatalf("labels %+v", r.Labels)
	}
	if p.Vocab.Size() != 5000 || r.UnkRate <= 0 || r.UnkRate > 0.2 {
		t.Fatalf("vocab %d, unk rate %.3f", p.Vocab.Size(), r.UnkRate)
	}
	if r.Test == nil || r.Test.Kept != r.Kept || !reflect.DeepEqual(p.Test.Tokens, p.Train.Tokens) {
		t.Fatal("the same file as test set must encode identically")
	}
	if !strings.HasPrefix(r.InputDigest, "xxh3-128:") || len(r.InputDigest) != len("xxh3-128:")+32 {
		t.Fatalf("input digest %q", r.InputDigest)
	}
	checkConsistent(t, realTrain, p, DefaultPreprocess())
}

func TestPrepareCacheReuseAndRebuild(t *testing.T) {
	dir := t.TempDir()
	in := synthInput(t, dir, 3000, 1)
	cache := filepath.Join(dir, "cache")
	base := PrepOptions{Train: in, CacheDir: cache, VocabSize: 3000}
	p1, err := Prepare(context.Background(), base)
	if err != nil {
		t.Fatal(err)
	}
	if p1.Report.CacheHit {
		t.Fatal("first run reported a cache hit")
	}
	checkConsistent(t, in, p1, DefaultPreprocess())
	first := p1.Report
	tokens := append([]int32(nil), p1.Train.Tokens...)
	p1.Close()

	p2, err := Prepare(context.Background(), base)
	if err != nil {
		t.Fatal(err)
	}
	if !p2.Report.CacheHit || !reflect.DeepEqual(p2.Train.Tokens, tokens) {
		t.Fatal("second run did not reuse the cache")
	}
	a, b := first, p2.Report
	a.CacheHit, a.Seconds, b.CacheHit, b.Seconds = false, 0, false, 0
	if !reflect.DeepEqual(a, b) {
		t.Fatalf("cached report differs:\n%+v\n%+v", a, b)
	}
	p2.Close()

	changed := []struct {
		name string
		mod  func(*PrepOptions)
	}{
		{"vocab size", func(o *PrepOptions) { o.VocabSize = 100 }},
		{"min count", func(o *PrepOptions) { o.MinCount = 5 }},
		{"tokenizer", func(o *PrepOptions) { o.Preprocess = DefaultPreprocess(); o.Preprocess.Tokenizer = TokenizerTreebank }},
		{"balance", func(o *PrepOptions) { o.Balance = true }},
		{"skip bad", func(o *PrepOptions) { o.SkipBad = true }},
	}
	for _, c := range changed {
		o := base
		c.mod(&o)
		p, err := Prepare(context.Background(), o)
		if err != nil {
			t.Fatal(err)
		}
		if p.Report.CacheHit || p.Report.CachePath == first.CachePath {
			t.Fatalf("%s changed but the cache was reused", c.name)
		}
		p.Close()
	}

	// Corrupt one token byte in the middle: detected, warned, rebuilt.
	raw, _ := os.ReadFile(first.CachePath)
	raw[cacheHeaderSize+100] ^= 0xff
	os.WriteFile(first.CachePath, raw, 0o644)
	var warnings []string
	o := base
	o.Progress = func(e ProgressEvent) {
		if e.Warning != "" {
			warnings = append(warnings, e.Warning)
		}
	}
	p3, err := Prepare(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	defer p3.Close()
	if p3.Report.CacheHit || len(warnings) != 1 || !strings.Contains(warnings[0], "checksum") {
		t.Fatalf("corruption not detected: hit %v, warnings %q", p3.Report.CacheHit, warnings)
	}
	if !reflect.DeepEqual(p3.Train.Tokens, tokens) {
		t.Fatal("rebuilt cache differs")
	}
}

func TestOpenCacheRejectsDamage(t *testing.T) {
	dir := t.TempDir()
	in := synthInput(t, dir, 500, 2)
	p, err := Prepare(context.Background(), PrepOptions{Train: in, CacheDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	path, key := p.Report.CachePath, strings.TrimSuffix(filepath.Base(p.Report.CachePath), ".cache")
	p.Close()
	good, _ := os.ReadFile(path)
	cases := []struct {
		name   string
		damage func([]byte) []byte
		key    string
		want   string
	}{
		{"ok", func(b []byte) []byte { return b }, key, ""},
		{"wrong key", func(b []byte) []byte { return b }, "other", "key"},
		{"magic", func(b []byte) []byte { b[0] = 'X'; return b }, key, "magic"},
		{"header", func(b []byte) []byte { b[20] ^= 1; return b }, key, "header checksum"},
		{"truncated", func(b []byte) []byte { return b[:len(b)-10] }, key, "truncated"},
		{"body", func(b []byte) []byte { b[len(b)-3] ^= 1; return b }, key, "checksum"},
		{"short", func(b []byte) []byte { return b[:100] }, key, "shorter"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := writeFile(t, t.TempDir(), "x.cache", string(c.damage(append([]byte(nil), good...))))
			cf, err := openCache(f, c.key, 0, true)
			if c.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				cf.Close()
				return
			}
			if !errors.Is(err, ErrCacheCorrupt) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err %v, want ErrCacheCorrupt mentioning %q", err, c.want)
			}
		})
	}
}

func TestPrepareBalanceAndEmpty(t *testing.T) {
	dir := t.TempDir()
	body := strings.Repeat("__label__2 good fine: great stuff\n", 6) +
		strings.Repeat("__label__1 bad: awful stuff\n", 2) +
		"__label__1 !!! ...: ???\n"
	in := writeFile(t, dir, "in.txt", body)
	p, err := Prepare(context.Background(), PrepOptions{Train: in, CacheDir: dir, Balance: true, Seed: 3, MinCount: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	r := p.Report
	want := map[string]int64{DropEmpty: 1, DropBalance: 4}
	if !reflect.DeepEqual(r.Dropped, want) || r.Kept != 4 || r.Labels != (LabelCounts{2, 2}) {
		t.Fatalf("dropped %v kept %d labels %+v; want %v, 4 kept, 2/2", r.Dropped, r.Kept, r.Labels, want)
	}
	// Counts exclude the dropped reviews: "good" appears in 2 kept reviews.
	if id := p.Vocab.ID([]byte("good")); p.Vocab.Count(id) != 2 {
		t.Fatalf("count of good = %d, want 2", p.Vocab.Count(id))
	}
	for i := 0; i < p.Train.Len(); i++ {
		if p.Train.Offsets[i+1] <= p.Train.Offsets[i] {
			t.Fatalf("review %d empty", i)
		}
	}
}

func TestPrepareErrors(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		name string
		o    PrepOptions
		want string
	}{
		{"missing file", PrepOptions{Train: filepath.Join(dir, "nope.txt")}, "nope.txt"},
		{"directory", PrepOptions{Train: dir}, "directory"},
		{"bad label", PrepOptions{Train: writeFile(t, dir, "b.txt", "__label__1 ok: fine\n__label__7 x: y\n")}, "line 2"},
		{"nothing left", PrepOptions{Train: writeFile(t, dir, "e.txt", "__label__1 ...: !!!\n")}, "no reviews left"},
		{"bad label map", PrepOptions{Train: writeFile(t, dir, "c.txt", "__label__1 a\n"), LabelMap: "1=maybe"}, "label map"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.o.CacheDir = filepath.Join(dir, "cache")
			_, err := Prepare(context.Background(), c.o)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err %v, want mention of %q", err, c.want)
			}
		})
	}
}

func TestPrepareRebuildsOnVocabularyChange(t *testing.T) {
	dir := t.TempDir()
	in := synthInput(t, dir, 300, 4)
	o := PrepOptions{Train: in, CacheDir: dir}
	p, err := Prepare(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	vocabPath := p.Report.VocabPath
	p.Close()
	cases := []struct {
		name   string
		damage func()
	}{
		{"edited", func() { os.WriteFile(vocabPath, []byte("0\t<pad>\t0\n1\t<unk>\t0\n"), 0o644) }},
		{"deleted", func() { os.Remove(vocabPath) }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.damage()
			var warned bool
			o.Progress = func(e ProgressEvent) { warned = warned || e.Warning != "" }
			p, err := Prepare(context.Background(), o)
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			if p.Report.CacheHit || !warned || p.Vocab.Size() < 100 {
				t.Fatalf("hit %v warned %v vocab %d: want a warned rebuild", p.Report.CacheHit, warned, p.Vocab.Size())
			}
		})
	}
}

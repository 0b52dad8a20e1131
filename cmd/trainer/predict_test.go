package main

import (
	"bytes"
	"cmp"
	"compress/gzip"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"trainer/data"
	"trainer/internal/predict"
	"trainer/model"

	"trainer/train/job"
)

func TestPredictOutputs(t *testing.T) {
	modelPath, corpus := trainedModel(t)
	texts := []string{"great great product, love it", "awful\tbroken", "", "ok"}
	code, tsv, stderr := trainer(t, append([]string{"predict", "--model", modelPath, "--workers", "2"}, texts...)...)
	if code != exitOK {
		t.Fatalf("exit %d:\n%s", code, stderr)
	}
	lines := strings.Split(strings.TrimSuffix(tsv, "\n"), "\n")
	if len(lines) != len(texts) {
		t.Fatalf("%d lines for %d texts:\n%s", len(lines), len(texts), tsv)
	}
	for i, l := range lines {
		f := strings.Split(l, "\t")
		if len(f) != 3 || (f[0] != "pos" && f[0] != "neg") || f[2] != strings.ReplaceAll(texts[i], "\t", " ") {
			t.Fatalf("line %d %q", i, l)
		}
		p, err := strconv.ParseFloat(f[1], 64)
		if err != nil || p < 0 || p > 1 || (p > 0.5) != (f[0] == "pos") {
			t.Fatalf("line %d: probability %q, label %s", i, f[1], f[0])
		}
	}
	// The same reviews from a file (labels stripped) and as JSON lines, in
	// order, with the same probabilities.
	dir := t.TempDir()
	in := filepath.Join(dir, "in.txt")
	os.WriteFile(in, []byte("__label__2 "+texts[0]+"\n"+texts[1]+"\n\n"+texts[3]+"\n"), 0o644)
	code, js, stderr := trainer(t, "predict", "--model", modelPath, "--json", "--file", in, "--batch-size", "2")
	if code != exitOK {
		t.Fatalf("exit %d:\n%s", code, stderr)
	}
	dec := json.NewDecoder(strings.NewReader(js))
	for i := range texts {
		var p predict.Line
		if err := dec.Decode(&p); err != nil {
			t.Fatalf("line %d: %v", i, err)
		}
		want := strings.Split(lines[i], "\t")
		if p.Label != want[0] || strconv.FormatFloat(p.Prob, 'f', 4, 64) != want[1] {
			t.Fatalf("review %d: file+json %+v, args+tsv %q", i, p, lines[i])
		}
	}
	// Stdin.
	var out, errb bytes.Buffer
	app := newApp(&out, &errb)
	app.Reader = strings.NewReader(texts[0] + "\n")
	if err := app.Run([]string{"trainer", "predict", "--model", modelPath, "-"}); err != nil || out.String() != lines[0]+"\n" {
		t.Fatalf("stdin: %v %q, want %q", err, out.String(), lines[0])
	}
	_ = corpus
}

func TestPredictBadInput(t *testing.T) {
	modelPath, _ := trainedModel(t)
	cases := []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"predict", "--model", modelPath}, exitUsage, "no reviews"},
		{[]string{"predict", "great"}, exitUsage, "--model FILE is required"},
		{[]string{"predict", "--model", modelPath, "--file", "x", "text"}, exitUsage, "not both"},
		{[]string{"predict", "--model", modelPath, "-", "extra"}, exitUsage, "takes no other arguments"},
		{[]string{"predict", "--model", modelPath, "extra", "-"}, exitUsage, "takes no other arguments"},
		{[]string{"predict", "--model", "/nonexistent/model.bin", "text"}, exitRuntime, "model"},
	}
	for _, c := range cases {
		code, _, stderr := trainer(t, c.args...)
		if code != c.code || !strings.Contains(stderr, c.msg) {
			t.Errorf("%v: exit %d, want %d with %q; stderr:\n%s", c.args, code, c.code, c.msg, stderr)
		}
	}
}

// TestPredictFileReadsLikeTraining: a labelled line keeps every word of
// its text whichever separator follows the label, a gzip-compressed file is
// decompressed, not scored as bytes, and CR-only line endings end lines.
func TestPredictFileReadsLikeTraining(t *testing.T) {
	modelPath, _ := trainedModel(t)
	texts := []string{"great product works", "awful broken junk"}
	code, want, stderr := trainer(t, append([]string{"predict", "--model", modelPath}, texts...)...)
	if code != exitOK {
		t.Fatalf("exit %d:\n%s", code, stderr)
	}
	dir := t.TempDir()
	labelled := "__label__2\t" + texts[0] + "\n__label__1 " + texts[1] + "\n"
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte(labelled))
	zw.Close()
	cr := []byte(strings.ReplaceAll(labelled, "\n", "\r"))
	for name, content := range map[string][]byte{"plain.txt": []byte(labelled), "reviews.gz": gz.Bytes(), "noext": gz.Bytes(), "cr-only.txt": cr} {
		path := filepath.Join(dir, name)
		os.WriteFile(path, content, 0o644)
		code, got, stderr := trainer(t, "predict", "--model", modelPath, "--file", path)
		if code != exitOK || got != want {
			t.Errorf("%s: exit %d, output\n%s\nwant\n%s\n%s", name, code, got, want, stderr)
		}
	}
}

// BenchmarkPredict measures predict's reviews/s on 2 workers, in float32
// and in 8 bits, for the command's default model (E=512, H=128, mean
// pooling) and the reference's (E=128, H=256, last state), on the real
// Amazon polarity dev reviews and on their titles alone.
func BenchmarkPredict(b *testing.B) {
	const path = "../../../shared/data/amazon_polarity/dev.ft.txt"
	raw, err := os.ReadFile(path)
	if err != nil {
		b.Skipf("%s not present: %v", path, err)
	}
	var texts []string
	counts := map[string]int64{}
	tok := data.NewTokenizer(data.DefaultPreprocess())
	for _, l := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		t := data.StripFastTextLabel(l)
		texts = append(texts, t)
		for _, w := range tok.Tokens(t) {
			counts[string(w)]++
		}
	}
	// The 20,000 most frequent words seen twice or more, as prep keeps them.
	words := []string{}
	for w, n := range counts {
		if n >= 2 {
			words = append(words, w)
		}
	}
	slices.SortFunc(words, func(a, b string) int { return cmp.Or(cmp.Compare(counts[b], counts[a]), strings.Compare(a, b)) })
	v, err := data.NewVocabFromWords(append([]string{data.PadWord, data.UnkWord}, words[:min(len(words), 20000-2)]...))
	if err != nil {
		b.Fatal(err)
	}
	short := make([]string, len(texts))
	for i, t := range texts {
		short[i] = t[:strings.IndexByte(t+":", ':')] // the review's title
	}
	for _, m := range []struct {
		name string
		cfg  model.Config
	}{
		{"default", withVocab(job.DefaultModel(), v.Size())},
		{"layers2", withLayers(withVocab(job.DefaultModel(), v.Size()), 2)},
		{"reference", model.ReferenceConfig(v.Size())},
	} {
		f := &model.File{Version: model.FileVersion, Config: m.cfg, Params: make([]float32, model.NewLayout(m.cfg).Size()),
			Vocab: v.Words(), Preprocess: model.Preprocess(data.DefaultPreprocess()), MaxLen: 256}
		model.InitParams(m.cfg, f.Params, 1)
		mp := filepath.Join(b.TempDir(), "model.bin")
		if err := model.Save(mp, f); err != nil {
			b.Fatal(err)
		}
		for _, set := range []struct {
			name  string
			texts []string
			int8  bool
		}{{"reviews/fp32", texts, false}, {"reviews/int8", texts, true}, {"titles/fp32", short, false}, {"titles/int8", short, true}} {
			b.Run(m.name+"/"+set.name, func(b *testing.B) {
				m, err := predict.Load(mp, predict.Options{Workers: 2, Int8: set.int8})
				if err != nil {
					b.Fatal(err)
				}
				if (m.Precision() == predict.Int8) != set.int8 {
					b.Skip("no AVX-512 VNNI on this CPU: no int8 path")
				}
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					if err := m.Predict(io.Discard, set.texts, false); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.N*len(set.texts))/b.Elapsed().Seconds(), "reviews/s")
			})
		}
	}
}

// withVocab is c for a vocabulary of n ids, with the default n-gram
// buckets when c has n-grams of two or more words.
func withVocab(c model.Config, n int) model.Config {
	c.VocabSize = n
	if c.Ngrams >= 2 && c.Buckets == 0 {
		c.Buckets = model.DefaultBuckets
	}
	return c
}

// withLayers is c with n LSTM layers.
func withLayers(c model.Config, n int) model.Config {
	c.Layers = n
	return c
}

package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"trainer/internal/console"
	"trainer/model"
	"trainer/train"
)

// frequentWords are the n most frequent lowercase words of a review file,
// which every vocabulary built from it holds.
func frequentWords(t *testing.T, path string, n int) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{}
	for _, w := range strings.Fields(string(b)) {
		if strings.Trim(w, "abcdefghijklmnopqrstuvwxyz") == "" {
			counts[w]++
		}
	}
	words := slices.Collect(func(yield func(string) bool) {
		for w := range counts {
			if !yield(w) {
				return
			}
		}
	})
	slices.SortFunc(words, func(a, b string) int {
		if counts[a] != counts[b] {
			return counts[b] - counts[a]
		}
		return strings.Compare(a, b)
	})
	return words[:n]
}

// vectorOf is the vector the tests write for word i.
func vectorOf(i, dim int) []float32 {
	v := make([]float32, dim)
	for j := range v {
		v[j] = float32(i+1) / 8 * float32(j%3-1)
	}
	return v
}

// writeVectorsFile writes words' vectors in word2vec's text format, the
// first word spelled with a capital (the case-folded fallback must find
// it), and a word outside any vocabulary.
func writeVectorsFile(t *testing.T, dir string, words []string, dim int) string {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "%d %d\n", len(words)+1, dim)
	for i, w := range words {
		if i == 0 {
			w = strings.ToUpper(w[:1]) + w[1:]
		}
		b.WriteString(w)
		for _, x := range vectorOf(i, dim) {
			fmt.Fprintf(&b, " %g", x)
		}
		b.WriteString("\r\n")
	}
	b.WriteString("qqxqqz" + strings.Repeat(" 1", dim) + "\n")
	path := filepath.Join(dir, "vectors.vec")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// embeddingRows checks that the embedding in params holds each word's
// vector in the row vocab gives it.
func embeddingRows(t *testing.T, what string, cfg model.Config, vocab []string, params []float32, words []string) {
	t.Helper()
	emb := model.NewLayout(cfg).View("embed").Slice(params)
	for i, w := range words {
		id := slices.Index(vocab, w)
		if id < 0 {
			t.Fatalf("%s: %q is not in the vocabulary", what, w)
		}
		if got := emb[id*cfg.EmbedDim : (id+1)*cfg.EmbedDim]; !slices.Equal(got, vectorOf(i, cfg.EmbedDim)) {
			t.Fatalf("%s: row of %q is %v, want the file's %v", what, w, got, vectorOf(i, cfg.EmbedDim))
		}
	}
}

func TestTrainInitVectors(t *testing.T) {
	dir := t.TempDir()
	corpus := synthCorpus(t, dir, 300, 4)
	cache := filepath.Join(dir, "cache")
	words := frequentWords(t, corpus, 12)
	vecs := writeVectorsFile(t, dir, words, 8)

	// Frozen: after training the rows are still the file's vectors.
	frozen := filepath.Join(dir, "frozen")
	code, _, stderr := trainer(t, tinyTrain(corpus, frozen, cache, "--epochs", "1", "--init-vectors", vecs, "--freeze-vectors")...)
	if code != exitOK {
		t.Fatalf("exit %d; stderr:\n%s", code, stderr)
	}
	for _, want := range []string{"vectors " + vecs + ": 12 of ", "vocabulary words", "of training tokens", "13 lines: 1 case-folded matches", "1 words outside the vocabulary"} {
		if !strings.Contains(stderr, want) {
			t.Fatalf("the log lacks %q:\n%s", want, stderr)
		}
	}
	f, err := model.Load(filepath.Join(frozen, "model.bin"))
	if err != nil {
		t.Fatal(err)
	}
	embeddingRows(t, "frozen, trained", f.Config, f.Vocab, f.Params, words)
	if f.Extra["init_vectors"] != vecs || f.Extra["freeze_vectors"] != "true" {
		t.Fatalf("model metadata %v does not name the vectors and the freeze", f.Extra)
	}

	// Fine-tuned: the rows are the file's vectors before the first step
	// (a run stopped before it checkpoints its initial weights).
	tuned := filepath.Join(dir, "tuned")
	o := mustTrainOptions(t, tinyTrain(corpus, tuned, cache, "--init-vectors", vecs))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var log bytes.Buffer
	if err := runTrain(ctx, o, console.New(&log, false), io.Discard); err == nil || !strings.Contains(err.Error(), "interrupted") {
		t.Fatalf("run stopped before its first step returned %v", err)
	}
	if !strings.Contains(log.String(), "12 of ") {
		t.Fatalf("no coverage line:\n%s", log.String())
	}
	ck, err := train.LoadCheckpoint(filepath.Join(tuned, train.CheckpointName))
	if err != nil {
		t.Fatal(err)
	}
	embeddingRows(t, "before the first step", f.Config, f.Vocab, ck.Params, words)

	// The resume takes the weights from the checkpoint: it neither needs
	// the file nor accepts another one.
	other := filepath.Join(dir, "other.vec")
	os.WriteFile(other, []byte("good"+strings.Repeat(" 0", 8)+"\n"), 0o644)
	code, _, stderr = trainer(t, tinyTrain(corpus, tuned, cache, "--resume", tuned, "--init-vectors", other)...)
	if code != exitUsage || !strings.Contains(stderr, "Vectors (checkpoint") {
		t.Fatalf("resume with another vectors file: exit %d; stderr:\n%s", code, stderr)
	}
	os.Remove(vecs)
	code, _, stderr = trainer(t, tinyTrain(corpus, tuned, cache, "--resume", tuned)...)
	if code != exitOK || strings.Contains(stderr, "vectors "+vecs) {
		t.Fatalf("resume without the vectors file: exit %d; stderr:\n%s", code, stderr)
	}
}

func TestTrainVectorsErrors(t *testing.T) {
	dir := t.TempDir()
	corpus := synthCorpus(t, dir, 300, 1)
	cache := filepath.Join(dir, "cache")
	bad := filepath.Join(dir, "bad.vec")
	os.WriteFile(bad, []byte("2 8\ngood 1 2 3 4 5 6 7 8\nbad 1 2 3 x 5 6 7 8\n"), 0o644)
	wide := filepath.Join(dir, "wide.vec")
	os.WriteFile(wide, []byte("good 1 2 3 4\n"), 0o644)
	cases := []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"malformed", []string{"--init-vectors", bad}, exitRuntime, bad + `:3: word "bad" value 4 ("x") is not a number`},
		{"dimension", []string{"--init-vectors", wide}, exitUsage, "holds vectors of 4 values but --embed-dim is 8: give --embed-dim 4"},
		{"missing", []string{"--init-vectors", filepath.Join(dir, "nope.vec")}, exitUsage, "--init-vectors: stat"},
		{"freeze alone", []string{"--freeze-vectors", "--learn-vectors", "0"}, exitUsage, "--freeze-vectors needs --init-vectors FILE or --learn-vectors N"},
		{"file and learning", []string{"--init-vectors", wide, "--learn-vectors", "3"}, exitUsage, "--init-vectors and --learn-vectors 3 both start the embedding: give one"},
		{"negative passes", []string{"--learn-vectors", "-1"}, exitUsage, "--learn-vectors -1: want 0 (off) or more passes"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out := filepath.Join(dir, c.name)
			code, _, stderr := trainer(t, tinyTrain(corpus, out, cache, c.args...)...)
			if code != c.code || !strings.Contains(stderr, c.msg) {
				t.Fatalf("exit %d, want %d with %q; stderr:\n%s", code, c.code, c.msg, stderr)
			}
			if _, err := os.Stat(filepath.Join(out, train.CheckpointName)); err == nil || strings.Contains(stderr, "training ") {
				t.Fatalf("training started; stderr:\n%s", stderr)
			}
		})
	}
}

// TestTrainLearnVectors checks the default start of the embedding: vectors
// learned from the training reviews, logged, named in the model file,
// the same for the same seed, and not learned again by a resume; and that
// --learn-vectors 0 starts at random.
func TestTrainLearnVectors(t *testing.T) {
	dir := t.TempDir()
	corpus := synthCorpus(t, dir, 300, 6)
	cache := filepath.Join(dir, "cache")
	// Each run is stopped before its first step, which checkpoints the
	// embedding as it starts.
	start := func(name string, extra ...string) ([]float32, string) {
		out := filepath.Join(dir, name)
		o := mustTrainOptions(t, tinyTrain(corpus, out, cache, extra...))
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		var log bytes.Buffer
		if len(extra) > 0 && extra[0] == "--learn-vectors" {
			cancel() // nothing to learn: stop at once
		}
		// Stop once the vectors are in place, when the log says so.
		w := cancelOn{w: &log, text: "vectors learned", cancel: cancel}
		if err := runTrain(ctx, o, console.New(&w, false), io.Discard); err == nil || !strings.Contains(err.Error(), "interrupted") {
			t.Fatalf("%s: run stopped before its first step returned %v", name, err)
		}
		ck, err := train.LoadCheckpoint(filepath.Join(out, train.CheckpointName))
		if err != nil {
			t.Fatal(err)
		}
		f := ck.Params
		return model.NewLayout(o.Model).View("embed").Slice(f), log.String()
	}
	a, logA := start("a")
	b, _ := start("b")
	other, _ := start("seed", "--seed", "8")
	random, logR := start("random", "--learn-vectors", "0")
	if !strings.Contains(logA, "vectors learned from the training reviews (cbow, 5 passes over ") {
		t.Fatalf("no learning line in the log:\n%s", logA)
	}
	if strings.Contains(logR, "vectors learned") {
		t.Fatalf("--learn-vectors 0 learned vectors:\n%s", logR)
	}
	if !slices.Equal(a, b) || slices.Equal(a, other) || slices.Equal(a, random) {
		t.Fatalf("embedding starts: same seed equal %v, other seed equal %v, random equal %v; want true, false, false",
			slices.Equal(a, b), slices.Equal(a, other), slices.Equal(a, random))
	}

	// The resume finishes from the checkpoint without learning again, and
	// the model file says how its embedding started.
	code, _, stderr := trainer(t, tinyTrain(corpus, filepath.Join(dir, "a"), cache, "--resume", filepath.Join(dir, "a"))...)
	if code != exitOK || strings.Contains(stderr, "vectors learned") {
		t.Fatalf("resume: exit %d; stderr:\n%s", code, stderr)
	}
	f, err := model.Load(filepath.Join(dir, "a", "model.bin"))
	if err != nil {
		t.Fatal(err)
	}
	if f.Extra["learn_vectors"] != "5" || f.Extra["freeze_vectors"] != "false" {
		t.Fatalf("model metadata %v does not say how the embedding started", f.Extra)
	}
}

// cancelOn writes to w and calls cancel once a write holds text.
type cancelOn struct {
	w      io.Writer
	text   string
	cancel context.CancelFunc
}

func (c *cancelOn) Write(p []byte) (int, error) {
	if bytes.Contains(p, []byte(c.text)) {
		c.cancel()
	}
	return c.w.Write(p)
}

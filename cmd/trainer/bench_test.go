package main

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"trainer/internal/bench"
	"trainer/train/device"
)

// writeReviews writes n fastText reviews whose words give the label away,
// so a few steps of training have something to learn.
func writeReviews(t *testing.T, path string, n int, seed uint64) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 2))
	pos := []string{"great", "love", "excellent", "perfect", "happy"}
	neg := []string{"awful", "broken", "refund", "worst", "bad"}
	common := []string{"the", "product", "it", "was", "and", "this", "item", "i"}
	var b strings.Builder
	for i := 0; i < n; i++ {
		label, words := 1, neg
		if rng.IntN(2) == 1 {
			label, words = 2, pos
		}
		fmt.Fprintf(&b, "__label__%d", label)
		for j := 0; j < 3+rng.IntN(12); j++ {
			w := common[rng.IntN(len(common))]
			if rng.IntN(3) == 0 {
				w = words[rng.IntN(len(words))]
			}
			b.WriteString(" " + w)
		}
		b.WriteString("\n")
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestBenchBadInput(t *testing.T) {
	dir := t.TempDir()
	tr := filepath.Join(dir, "train.ft.txt")
	writeReviews(t, tr, 20, 1)
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"no files", []string{"--steps", "1"}, "--train FILE and --test FILE"},
		{"unknown approach", []string{"--train", tr, "--test", tr, "--approaches", "ddp,fsdp"}, `unknown approach "fsdp"`},
		{"zero cpus", []string{"--train", tr, "--test", tr, "--cpus", "1,0"}, "--cpus"},
		{"bad ranks", []string{"--train", tr, "--test", tr, "--ranks", "two"}, "--ranks"},
		{"no budget", []string{"--train", tr, "--test", tr, "--budget", "0s"}, "--budget"},
		{"no rounds", []string{"--train", tr, "--test", tr, "--repeat", "0"}, "--repeat must be at least 1"},
		{"impossible model", []string{"--train", tr, "--test", tr, "--hidden", "0"}, "hidden"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := run(append([]string{"trainer", "bench"}, c.args...), &out, &errb)
			if code != exitUsage || !strings.Contains(errb.String(), c.want) {
				t.Fatalf("exit %d, stderr %q; want exit %d mentioning %q", code, errb.String(), exitUsage, c.want)
			}
		})
	}
}

// TestBenchMatrix runs a tiny matrix end to end: every configuration has a
// row, those this build cannot run say why, and the files are written.
func TestBenchMatrix(t *testing.T) {
	dir := t.TempDir()
	tr, te, out := filepath.Join(dir, "train.ft.txt"), filepath.Join(dir, "test.ft.txt"), filepath.Join(dir, "out")
	writeReviews(t, tr, 300, 1)
	writeReviews(t, te, 80, 2)
	var stdout, stderr bytes.Buffer
	code := run([]string{"trainer", "bench", "--train", tr, "--test", te, "--out", out, "--steps", "4", "--evals", "2",
		"--embed-dim", "8", "--hidden", "8", "--layers", "2", "--batch-size", "16", "--cpus", "1,2",
		"--approaches", "ddp,ddp-mp,amp-hybrid"}, &stdout, &stderr)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	table := stdout.String()
	for _, want := range []string{"CPUs used", "accuracy", "training time", "tokens/s", "speedup",
		"DDP (CPU)", "DDP + model parallel, 2 stages (CPU)", "skipped: 1 CPUs per rank do not hold whole pipelines"} {
		if !strings.Contains(table, want) {
			t.Errorf("table lacks %q:\n%s", want, table)
		}
	}
	if !device.Available("cuda") && !strings.Contains(table, "skipped: needs a GPU") {
		t.Errorf("amp-hybrid without CUDA must be listed as skipped:\n%s", table)
	}
	f, err := os.Open(filepath.Join(out, "bench.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1+6 {
		t.Fatalf("bench.csv has %d rows, want a header and 6 configurations", len(rows))
	}
	results := readBenchResults(t, out)
	ran := 0
	for _, r := range results {
		if r.Skipped != "" {
			continue
		}
		ran++
		if r.Error != "" || r.Steps != 4 || r.Tokens <= 0 || r.TokensPerS <= 0 || len(r.Curve) != 3 {
			t.Errorf("%s: %+v", r.Label(), r)
		}
		if r.Approach == bench.DDP && r.CPUs == 1 && r.Speedup != 1 {
			t.Errorf("the 1-CPU ddp row is the speedup base, got %v", r.Speedup)
		}
	}
	if ran != 3 {
		t.Errorf("%d configurations ran, want 3 (ddp x1, ddp x2, ddp-mp x2)", ran)
	}
	for _, png := range []string{"loss.png", "accuracy.png", "scaling.png"} {
		b, err := os.ReadFile(filepath.Join(out, png))
		if err != nil || !bytes.HasPrefix(b, []byte("\x89PNG")) {
			t.Errorf("%s: not a PNG (%v)", png, err)
		}
	}
}

// readBenchResults reads the results of bench.json in out.
func readBenchResults(t *testing.T, out string) []bench.Result {
	t.Helper()
	var doc struct {
		Results []bench.Result `json:"results"`
	}
	b, err := os.ReadFile(filepath.Join(out, "bench.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	return doc.Results
}

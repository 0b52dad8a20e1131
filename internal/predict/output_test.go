package predict

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"trainer/data"
	"trainer/model"
	"trainer/train"
)

// TestWriteEach: the reviews reach write in input order, Chunk at a time
// from a reader, the output arrives whole, and the first error stops the
// run: write's, or the writer's at the final flush.
func TestWriteEach(t *testing.T) {
	var lines strings.Builder
	for i := range Chunk + 3 {
		lines.WriteString(strconv.Itoa(i) + "\n")
	}
	echo := func(w io.Writer, texts []string) error {
		_, err := io.WriteString(w, strconv.Itoa(len(texts))+":"+texts[0]+"\n")
		return err
	}
	cases := []struct {
		name string
		src  data.TextSource
		want string
	}{
		{"given", data.TextSource{Texts: []string{"a", "b"}}, "2:a\n"},
		{"reader", data.TextSource{R: strings.NewReader(lines.String()), Name: "stdin"},
			strconv.Itoa(Chunk) + ":0\n3:" + strconv.Itoa(Chunk) + "\n"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := WriteEach(&b, c.src, echo); err != nil || b.String() != c.want {
				t.Fatalf("wrote %q, %v; want %q", b.String(), err, c.want)
			}
		})
	}
	stop := errors.New("stop")
	given := data.TextSource{Texts: []string{"a"}}
	if err := WriteEach(io.Discard, given, func(io.Writer, []string) error { return stop }); !errors.Is(err, stop) {
		t.Fatalf("write's error: got %v", err)
	}
	if err := WriteEach(failWriter{}, given, echo); err == nil || err.Error() != "disk full" {
		t.Fatalf("flush error: got %v", err)
	}
}

func TestWritePredictions(t *testing.T) {
	texts := []string{"great\tproduct", "awful\r\nbroken", "", "edge"}
	prob := []float64{0.97314, 0.00004, 0.5, 0.50004}
	cases := []struct {
		name   string
		asJSON bool
		want   string
	}{
		{"tsv", false, "pos\t0.9731\tgreat product\n" + "neg\t0.0000\tawful  broken\n" + "neg\t0.5000\t\n" + "pos\t0.5000\tedge\n"},
		{"json", true, `{"label":"pos","prob":0.9731,"text":"great\tproduct"}` + "\n" +
			`{"label":"neg","prob":0,"text":"awful\r\nbroken"}` + "\n" +
			`{"label":"neg","prob":0.5,"text":""}` + "\n" +
			`{"label":"pos","prob":0.5,"text":"edge"}` + "\n"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := WritePredictions(&b, texts, prob, c.asJSON); err != nil {
				t.Fatal(err)
			}
			if b.String() != c.want {
				t.Errorf("got\n%q\nwant\n%q", b.String(), c.want)
			}
		})
	}
}

// failWriter fails every write.
type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestWritePredictionsReportsWriteErrors(t *testing.T) {
	for _, asJSON := range []bool{false, true} {
		if err := WritePredictions(failWriter{}, []string{"a"}, []float64{0.9}, asJSON); err == nil {
			t.Errorf("json %v: no error from a failing writer", asJSON)
		}
	}
}

// TestPredictMatchesScore: Predict's lines carry Score's probabilities,
// in input order, and no texts write nothing.
func TestPredictMatchesScore(t *testing.T) {
	m, err := Load(testModel(t), Options{Workers: 2, BatchSize: 2})
	if err != nil {
		t.Fatal(err)
	}
	texts := []string{"great product", "awful broken", "", "love love love"}
	prob, err := m.Score(texts)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := m.Predict(&b, texts, false); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	if len(lines) != len(texts) {
		t.Fatalf("%d lines for %d texts:\n%s", len(lines), len(texts), b.String())
	}
	for i, l := range lines {
		f := strings.Split(l, "\t")
		if f[0] != Label(prob[i]) || f[1] != strconv.FormatFloat(float64(int64(prob[i]*10000+0.5))/10000, 'f', 4, 64) || f[2] != texts[i] {
			t.Errorf("line %d %q; P(pos) %g", i, l, prob[i])
		}
	}
	b.Reset()
	if err := m.Predict(&b, nil, true); err != nil || b.Len() != 0 {
		t.Errorf("no texts: %v, wrote %q", err, b.String())
	}
}

// TestWriteInputs: the ids are Inputs' and, for a model with the wide
// n-gram path, the features follow after a tab, or in "ngram_ids".
func TestWriteInputs(t *testing.T) {
	for _, cfg := range []model.Config{
		{EmbedDim: 8, Hidden: 6, Layers: 1, Pool: model.PoolMean},
		{EmbedDim: 8, Hidden: 6, Layers: 1, Pool: model.PoolMean, Ngrams: 2, Buckets: 13},
	} {
		m, err := Load(testModelOf(t, cfg), Options{})
		if err != nil {
			t.Fatal(err)
		}
		texts := []string{"great product love it", "", "awful"}
		want := m.Inputs(texts)
		var tsv, js bytes.Buffer
		if err := m.WriteInputs(&tsv, texts, false); err != nil {
			t.Fatal(err)
		}
		if err := m.WriteInputs(&js, texts, true); err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSuffix(tsv.String(), "\n"), "\n")
		dec := json.NewDecoder(&js)
		for i, ids := range want {
			feats := model.NgramFeatures(ids, m.File.Config, nil)
			line := appendInts(nil, ids)
			if cfg.Ngrams > 0 {
				line = appendInts(append(line, '\t'), feats)
			}
			if lines[i] != string(line) {
				t.Errorf("ngrams %d review %d: %q, want %q", cfg.Ngrams, i, lines[i], line)
			}
			var rec struct {
				IDs      []int32 `json:"ids"`
				Length   int     `json:"length"`
				NgramIDs []int32 `json:"ngram_ids"`
			}
			if err := dec.Decode(&rec); err != nil || !slices.Equal(rec.IDs, ids) || rec.Length != len(ids) || !slices.Equal(rec.NgramIDs, feats) {
				t.Errorf("ngrams %d review %d: JSON %+v, %v", cfg.Ngrams, i, rec, err)
			}
		}
	}
}

func TestEvalReportWriteText(t *testing.T) {
	r := &EvalReport{Metrics: train.Metrics{N: 10, Accuracy: 0.8, Loss: 0.45678, Precision: 0.75, Recall: 1, F1: 0.857142,
		BalancedAccuracy: 0.8, Confusion: train.Confusion{TP: 6, FN: 0, FP: 2, TN: 2}}, Arithmetic: FP32, Dropped: 3}
	var b bytes.Buffer
	if err := r.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	const want = "reviews            10\n" +
		"accuracy           0.8000\n" +
		"loss (mean BCE)    0.4568\n" +
		"precision          0.7500\n" +
		"recall             1.0000\n" +
		"F1                 0.8571\n" +
		"balanced accuracy  0.8000\n" +
		"confusion          predicted pos  predicted neg\n" +
		"  actual pos       6              0\n" +
		"  actual neg       2              2\n" +
		"arithmetic         fp32\n" +
		"dropped            3 (empty after cleaning or skipped)\n"
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
}

// TestEvalFile: every labelled review is scored once, an empty review is
// counted as dropped, and a file with none left is an error naming it.
func TestEvalFile(t *testing.T) {
	path := testModel(t)
	dir := t.TempDir()
	test := filepath.Join(dir, "test.ft.txt")
	os.WriteFile(test, []byte("__label__2 great product\n__label__1 awful broken\n__label__1 ...\n"), 0o644)
	empty := filepath.Join(dir, "empty.ft.txt")
	os.WriteFile(empty, []byte("__label__1 ...\n"), 0o644)
	r, err := EvalFile(context.Background(), path, test, EvalOptions{Options: Options{Workers: 2}, ModelLabels: true})
	if err != nil {
		t.Fatal(err)
	}
	if r.N != 2 || r.Dropped != 1 || r.Model != path || r.Test != test || r.Arithmetic != FP32 {
		t.Errorf("report %+v", r)
	}
	if _, err := EvalFile(context.Background(), path, empty, EvalOptions{}); err == nil || !strings.Contains(err.Error(), empty+": no reviews") {
		t.Errorf("no reviews: error %v", err)
	}
}

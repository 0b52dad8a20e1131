package main

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"trainer/internal/predict"
)

// TestReportEndToEnd runs synth --meta and report through a real model
// and checks that the report's counts are the model's own predictions.
func TestReportEndToEnd(t *testing.T) {
	modelPath, _ := trainedModel(t)
	dir := t.TempDir()
	input := filepath.Join(dir, "meta.jsonl")
	if code, _, stderr := trainer(t, "synth", "--meta", "--n", "3000", "--seed", "4", "--products", "5",
		"--plant", "product=P0001,from=2021-06,negative=0.9", "--out", input); code != exitOK {
		t.Fatalf("synth exit %d:\n%s", code, stderr)
	}
	out := filepath.Join(dir, "report")
	code, stdout, stderr := trainer(t, "report", "--model", modelPath, "--input", input, "--out", out,
		"--period", "quarter", "--workers", "2", "--batch-size", "64", "--json", "--log-format", "json")
	if code != exitOK {
		t.Fatalf("report exit %d:\n%s", code, stderr)
	}
	var summary map[string]any
	if err := json.Unmarshal([]byte(stdout), &summary); err != nil {
		t.Fatalf("summary not one JSON object: %v\n%s", err, stdout)
	}
	b, err := os.ReadFile(filepath.Join(out, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	var r struct {
		Reviews, Scored int64
		Overall         struct{ Reviews, Negative int64 }
		ByPeriod        []struct{ Period string } `json:"by_period"`
		ByGroup         []struct{ Group string }  `json:"by_group"`
		RatingAgreement *struct{ Rated int64 }    `json:"rating_agreement"`
	}
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	if r.Reviews != 3000 || r.Scored != 3000 || r.Overall.Reviews != 3000 || len(r.ByPeriod) != 12 || len(r.ByGroup) != 5 ||
		r.RatingAgreement == nil || r.RatingAgreement.Rated != 3000 {
		t.Fatalf("report %+v", r)
	}
	// The same texts through the model's inference path give the same
	// negative count.
	m, err := predict.Load(modelPath, predict.Options{Workers: 1, Int8: true})
	if err != nil {
		t.Fatal(err)
	}
	f, _ := os.Open(input)
	defer f.Close()
	var texts []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var rec struct{ Summary, ReviewText string }
		json.Unmarshal(sc.Bytes(), &rec)
		texts = append(texts, rec.Summary+" "+rec.ReviewText)
	}
	prob, err := m.Score(texts)
	if err != nil {
		t.Fatal(err)
	}
	var neg int64
	for _, p := range prob {
		if p < 0.5 {
			neg++
		}
	}
	if neg != r.Overall.Negative {
		t.Fatalf("report counts %d negative, the model %d", r.Overall.Negative, neg)
	}
	for _, name := range []string{"report.html", "by_period.csv", "by_group.csv", "alerts.csv", "terms.csv", "rating_agreement.csv"} {
		if _, err := os.Stat(filepath.Join(out, name)); err != nil {
			t.Error(err)
		}
	}
}

func TestReportBadUse(t *testing.T) {
	dir := t.TempDir()
	csv := filepath.Join(dir, "in.csv")
	os.WriteFile(csv, []byte("Text,Time\ngood,2021-01-02\n"), 0o644)
	model := filepath.Join(dir, "missing.bin")
	cases := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"report", "--input", csv, "--out", dir}, exitUsage, "--model FILE is required"},
		{[]string{"report", "--model", model, "--input", csv, "--out", dir, "--period", "day"}, exitUsage, "--period"},
		{[]string{"report", "--model", model, "--input", csv, "--out", dir, "--fdr", "0"}, exitUsage, "--fdr"},
		{[]string{"report", "--model", model, "--input", csv, "--out", dir}, exitRuntime, "missing.bin"},
	}
	for _, c := range cases {
		code, _, stderr := trainer(t, c.args...)
		if code != c.code || !strings.Contains(stderr, c.want) || strings.Count(stderr, "\n") != 1 {
			t.Errorf("%v: exit %d, stderr %q; want %d and %q on one line", c.args, code, stderr, c.code, c.want)
		}
	}
}

package main

import (
	"math"
	"path/filepath"
	"strings"
	"testing"

	"trainer/model"
)

func TestTrainPipelineStagesBadInput(t *testing.T) {
	dir := t.TempDir()
	corpus := synthCorpus(t, dir, 200, 1)
	cases := []struct {
		name  string
		extra []string
		want  string
	}{
		{"zero stages", []string{"--pipeline-stages", "0"}, "at least 1"},
		{"more stages than layers+1", []string{"--pipeline-stages", "3"}, "at most 2 stages"},
		{"workers not a multiple", []string{"--pipeline-stages", "2", "--cpu-workers", "3"}, "multiple of --pipeline-stages"},
		{"with hybrid schedule", []string{"--pipeline-stages", "2", "--schedule", "hybrid"}, "does not combine"},
		{"negative micro-batches", []string{"--pipeline-stages", "2", "--micro-batches", "-1"}, "must not be negative"},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out := filepath.Join(dir, "run", string(rune('a'+i)))
			code, _, stderr := trainer(t, tinyTrain(corpus, out, filepath.Join(dir, "cache"), c.extra...)...)
			if code != exitUsage || !strings.Contains(stderr, c.want) {
				t.Fatalf("exit %d, stderr %q; want exit %d mentioning %q", code, stderr, exitUsage, c.want)
			}
		})
	}
}

// TestTrainPipelineStagesMatchesUnsplit trains the same run once on one
// worker and once as one pipeline of two stages on two workers: the
// gradients are the same up to summation order, so the weights must agree
// closely, and the metrics must report the pipeline and its bubble.
func TestTrainPipelineStagesMatchesUnsplit(t *testing.T) {
	dir := t.TempDir()
	corpus := synthCorpus(t, dir, 300, 1)
	cache := filepath.Join(dir, "cache")
	plain, piped := filepath.Join(dir, "plain"), filepath.Join(dir, "piped")
	if code, _, stderr := trainer(t, tinyTrain(corpus, plain, cache, "--cpu-workers", "1")...); code != exitOK {
		t.Fatalf("unsplit run: exit %d\n%s", code, stderr)
	}
	code, stdout, stderr := trainer(t, tinyTrain(corpus, piped, cache, "--cpu-workers", "2", "--pipeline-stages", "2")...)
	if code != exitOK {
		t.Fatalf("pipelined run: exit %d\n%s", code, stderr)
	}
	if !strings.Contains(stdout, "model parallel, 2 stages") {
		t.Errorf("summary lacks the approach:\n%s", stdout)
	}
	a, err := model.Load(filepath.Join(plain, "model.bin"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := model.Load(filepath.Join(piped, "model.bin"))
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Params) != len(b.Params) {
		t.Fatalf("parameter counts %d and %d", len(a.Params), len(b.Params))
	}
	worst := 0.0
	for i := range a.Params {
		worst = max(worst, math.Abs(float64(a.Params[i]-b.Params[i])))
	}
	if worst > 1e-4 {
		t.Fatalf("pipelined weights differ from the unsplit run by up to %g", worst)
	}
	for _, m := range metricsLines(t, filepath.Join(piped, "metrics.jsonl")) {
		p, ok := m["pipeline"].(map[string]any)
		if !ok {
			t.Fatalf("epoch %v: no pipeline entry in %v", m["epoch"], m)
		}
		if stages, _ := p["stages"].([]any); len(stages) != 2 {
			t.Errorf("epoch %v: stages %v, want 2", m["epoch"], p["stages"])
		}
		if bubble, _ := p["bubble"].(float64); bubble < 0 || bubble >= 1 {
			t.Errorf("epoch %v: bubble %v outside [0, 1)", m["epoch"], p["bubble"])
		}
	}
}

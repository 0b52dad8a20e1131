package main

import (
	"math"
	"path/filepath"
	"testing"

	"trainer/cuda"
	"trainer/cuda/emu"
	"trainer/model"
	"trainer/train"
)

// TestTrainEmulatedHybridMatchesCPUOracle: train --device cuda:0
// --cpu-workers 2 on the host-emulated GPU, with the hybrid scheduler
// splitting every batch by its cost model, ends with the weights of one
// CPU worker on the same batches (fp32, up to summation order), however the
// batches were split. SGD rather than AdamW: Adam's first steps turn a
// gradient of 1e-9 against -1e-9 (summation order) into updates of +lr and
// -lr, which would hide a real difference behind a wide tolerance.
func TestTrainEmulatedHybridMatchesCPUOracle(t *testing.T) {
	saved := newGPUReplicasWith
	t.Cleanup(func() { newGPUReplicasWith = saved })
	newGPUReplicasWith = func(c model.Config, device int, amp string, streams int) ([]train.Replica, []train.Forwarder, error) {
		prec, err := cuda.ParsePrecision(amp)
		if err != nil {
			return nil, nil, err
		}
		return gpuReplicasOn(emu.New(streams), c, prec, streams)
	}
	dir := t.TempDir()
	corpus := synthCorpus(t, dir, 120, 5)
	cache := filepath.Join(dir, "cache")
	base := []string{"train", "--train", corpus, "--cache-dir", cache, "--epochs", "2", "--embed-dim", "8", "--hidden", "8",
		"--batch-size", "16", "--max-len", "24", "--workers", "1", "--seed", "7", "--log-format", "json", "--optimizer", "sgd", "--lr", "0.05"}
	runs := map[string][]string{
		"oracle": {"--device", "cpu", "--cpu-workers", "1"},
		"hybrid": {"--device", "cuda:0", "--amp", "off", "--cpu-workers", "2"},
	}
	params := map[string][]float32{}
	for name, extra := range runs {
		out := filepath.Join(dir, name)
		args := append(append(append([]string{}, base...), "--out", out), extra...)
		if code, _, stderr := trainer(t, args...); code != exitOK {
			t.Fatalf("%s: exit %d; stderr:\n%s", name, code, stderr)
		}
		params[name] = loadParams(t, filepath.Join(out, "model.bin"))
		if name == "hybrid" {
			checkSchedule(t, metricsLines(t, filepath.Join(out, "metrics.jsonl"))[0], []string{"emu", "cpu", "cpu"})
		}
	}
	want, got := params["oracle"], params["hybrid"]
	if len(got) != len(want) {
		t.Fatalf("%d parameters, oracle %d", len(got), len(want))
	}
	worst := 0.0
	for i := range want {
		d := math.Abs(float64(got[i] - want[i]))
		worst = max(worst, d)
		if d > 1e-5+1e-4*math.Abs(float64(want[i])) {
			t.Fatalf("param %d = %v, CPU oracle %v (|diff| %.3g)", i, got[i], want[i], d)
		}
	}
	t.Logf("largest difference from the CPU oracle: %.3g", worst)
}

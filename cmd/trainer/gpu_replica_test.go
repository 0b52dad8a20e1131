package main

import (
	"path/filepath"
	"strings"
	"testing"
	"trainer/train/device"

	"trainer/cuda"
	"trainer/cuda/emu"
	"trainer/model"
)

// TestTrainEmulatedGPU runs `train --device cuda:0 --amp` through the real
// GPU replica and its loss scaler on the host-emulated device, alone and
// beside a CPU worker under the hybrid scheduler.
func TestTrainEmulatedGPU(t *testing.T) {
	saved := newGPUReplicasWith
	t.Cleanup(func() { newGPUReplicasWith = saved })
	newGPUReplicasWith = func(c model.Config, ordinal int, amp string, streams int) ([]device.Replica, []device.Forwarder, error) {
		prec, err := cuda.ParsePrecision(amp)
		if err != nil {
			return nil, nil, err
		}
		return gpuReplicasOn(emu.New(streams), c, prec, streams)
	}
	dir := t.TempDir()
	corpus := synthCorpus(t, dir, 80, 5)
	cache := filepath.Join(dir, "cache")
	base := []string{"train", "--train", corpus, "--cache-dir", cache, "--epochs", "1", "--embed-dim", "8", "--hidden", "8",
		"--batch-size", "16", "--max-len", "24", "--workers", "1", "--seed", "7", "--log-format", "json", "--device", "cuda:0", "--amp"}
	cases := []struct {
		name     string
		extra    []string
		approach string
		names    []string
	}{
		{"fp16 alone", nil, "AMP fp16 cuda:0", nil},
		{"fp16 + 1 cpu", []string{"--cpu-workers", "1"}, "AMP fp16 cuda:0 + 1 CPU (hybrid)", []string{"emu", "cpu"}},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out := filepath.Join(dir, "run", string(rune('a'+i)))
			args := append(append(append([]string{}, base...), "--out", out), c.extra...)
			code, stdout, stderr := trainer(t, args...)
			if code != exitOK {
				t.Fatalf("exit %d; stderr:\n%s", code, stderr)
			}
			if !strings.Contains(stdout, c.approach) {
				t.Fatalf("summary lacks %q:\n%s", c.approach, stdout)
			}
			lines := metricsLines(t, filepath.Join(out, "metrics.jsonl"))
			if len(lines) != 1 {
				t.Fatalf("%d metrics lines, want 1", len(lines))
			}
			m := lines[0]
			checkAccuracy(t, m)
			if c.names != nil {
				checkSchedule(t, m, c.names)
			}
			// Small fp16 gradients of a fresh model do not overflow at 2^16.
			if m["loss_scale"] != float64(device.DefaultInitScale) || m["skipped_steps"] != 0.0 {
				t.Errorf("loss_scale %v, skipped_steps %v; want 65536 and 0", m["loss_scale"], m["skipped_steps"])
			}
		})
	}
}

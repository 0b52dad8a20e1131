//go:build cuda

package cuda_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"trainer/cuda"
	"trainer/model"
	"trainer/train/device"
)

// The GPU benchmark runs only when $TRAINER_GPU_BENCH names an output
// directory (make gpu-check's run.sh sets it): it writes the synthetic
// batches there for scripts/gpu_bench.py, so that PyTorch trains on exactly
// the same data, and its own figures to go.json.
const benchEnv = "TRAINER_GPU_BENCH"

// benchResult is one precision's figures in go.json.
type benchResult struct {
	Precision    string  `json:"precision"`
	Steps        int     `json:"steps"`
	Seconds      float64 `json:"seconds"`
	TokensPerS   float64 `json:"tokens_per_s"`
	ReviewsPerS  float64 `json:"reviews_per_s"`
	EpochSeconds float64 `json:"epoch_seconds_3_6m"`
	FinalLoss    float64 `json:"final_loss"`
	Skipped      int64   `json:"skipped_steps"`
	Device       string  `json:"device"`
}

func TestGPUBench(t *testing.T) {
	dir := os.Getenv(benchEnv)
	if dir == "" {
		t.Skipf("set %s=DIR to run the GPU benchmark", benchEnv)
	}
	steps := benchStepsDflt
	if s := os.Getenv("TRAINER_GPU_BENCH_STEPS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			t.Fatalf("TRAINER_GPU_BENCH_STEPS=%q: want a positive integer", s)
		}
		steps = n
	}
	precs := "fp16,bf16,fp32"
	if s := os.Getenv("TRAINER_GPU_BENCH_PRECISIONS"); s != "" {
		precs = s
	}
	batches := benchBatchesFor()
	if err := writeBatches(filepath.Join(dir, "batches.bin"), batches); err != nil {
		t.Fatal(err)
	}
	cfg := model.Config{VocabSize: benchVocab, EmbedDim: benchEmbed, Hidden: benchHidden, Layers: 1, Pool: model.PoolLast}
	params := make([]float32, model.NewLayout(cfg).Size())
	model.InitParams(cfg, params, 1)
	be, err := cuda.Open(0, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer be.Close()
	var results []benchResult
	for _, name := range strings.Split(precs, ",") {
		prec, err := cuda.ParsePrecision(name)
		if err != nil {
			t.Fatal(err)
		}
		tr, err := cuda.NewResident(be, cfg, prec, device.DefaultOptimConfig(), 5, params)
		if err != nil {
			t.Fatal(err)
		}
		var st device.StepResult
		for i := 0; i < benchWarmup; i++ {
			if st, err = tr.Step(batches[i%len(batches)], 1e-3); err != nil {
				t.Fatal(err)
			}
		}
		tokens, reviews := 0, 0
		t0 := time.Now()
		for i := 0; i < steps; i++ {
			b := batches[(benchWarmup+i)%len(batches)]
			if st, err = tr.Step(b, 1e-3); err != nil {
				t.Fatal(err)
			}
			tokens += b.RealTokens()
			reviews += b.Size
		}
		secs := time.Since(t0).Seconds()
		res := benchResult{
			Precision: prec.String(), Steps: steps, Seconds: secs,
			TokensPerS: float64(tokens) / secs, ReviewsPerS: float64(reviews) / secs,
			FinalLoss: st.Loss / float64(st.Rows), Device: be.Name(),
		}
		res.EpochSeconds = epochReviews / res.ReviewsPerS
		for _, sc := range tr.Scalers() {
			res.Skipped += sc.Skipped()
		}
		results = append(results, res)
		fmt.Printf("go-cuda %-5s %s: %.0f tokens/s, %.0f reviews/s, epoch of 3.6M reviews %.1f s (loss %.4f, skipped %d)\n",
			res.Precision, res.Device, res.TokensPerS, res.ReviewsPerS, res.EpochSeconds, res.FinalLoss, res.Skipped)
		if err := tr.Close(); err != nil {
			t.Fatal(err)
		}
	}
	out, _ := json.MarshalIndent(results, "", "  ")
	if err := os.WriteFile(filepath.Join(dir, "go.json"), out, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestDeviceOpen checks the device-level error paths on a real GPU.
func TestDeviceOpen(t *testing.T) {
	devs, err := cuda.Devices()
	if err != nil {
		t.Skipf("no usable GPU: %v", err)
	}
	t.Logf("devices: %v", devs)
	if _, err := cuda.Open(len(devs), 1); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("Open(cuda:%d) = %v, want a does-not-exist error listing the devices", len(devs), err)
	}
	be, err := cuda.Open(0, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer be.Close()
	if be.Streams() != 2 {
		t.Errorf("%d streams, want 2", be.Streams())
	}
	err = be.Do(func() error { return be.Launch("no_such_kernel", cuda.Dim3{X: 1}, cuda.Dim3{X: 32}, 0) })
	if err == nil {
		t.Error("launch of an unknown kernel succeeded")
	}
}

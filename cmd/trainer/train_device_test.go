package main

import (
	"bufio"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"trainer/model"
	"trainer/train"
	"trainer/train/device"
)

func TestExpandBareAMP(t *testing.T) {
	cases := []struct {
		in, want string
	}{
		{"trainer train --device cuda:0 --amp", "trainer train --device cuda:0 --amp fp16"},
		{"trainer train --amp --cpu-workers 12", "trainer train --amp fp16 --cpu-workers 12"},
		{"trainer train --amp bf16 --cpu-workers 2", "trainer train --amp bf16 --cpu-workers 2"},
		{"trainer train --amp off", "trainer train --amp off"},
		{"trainer train --amp fp8", "trainer train --amp fp8"},
		{"trainer train --amp=bf16", "trainer train --amp=bf16"},
		{"trainer train -amp", "trainer train -amp fp16"},
		{"trainer predict -- --amp", "trainer predict -- --amp"},
	}
	for _, c := range cases {
		got := strings.Join(expandBareAMP(strings.Fields(c.in)), " ")
		if got != c.want {
			t.Errorf("expandBareAMP(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestTrainDeviceFlagsBadInput(t *testing.T) {
	dir := t.TempDir()
	corpus := synthCorpus(t, dir, 100, 1)
	cache := filepath.Join(dir, "cache")
	cases := []struct {
		name  string
		extra []string
		msg   string
	}{
		{"amp on cpu", []string{"--amp", "fp16"}, "CPU math is fp32"},
		{"bare amp on cpu", []string{"--amp"}, "--amp fp16 needs a GPU"},
		{"bare amp before a flag", []string{"--amp", "--epochs", "1"}, "--amp fp16 needs a GPU"},
		{"unknown amp", []string{"--amp", "fp8"}, `--amp "fp8": want auto, fp16, bf16 or off`},
		{"unknown schedule", []string{"--schedule", "fastest"}, `--schedule "fastest": want even or hybrid`},
		{"streams on cpu", []string{"--streams", "2"}, "--streams 2 needs a GPU"},
		{"zero streams", []string{"--streams", "0"}, "--streams must be at least 1"},
		{"no workers on cpu", []string{"--cpu-workers", "0"}, "0 only beside a GPU"},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out := filepath.Join(dir, "run", string(rune('a'+i)))
			code, _, stderr := trainer(t, tinyTrain(corpus, out, cache, c.extra...)...)
			if code != exitUsage || !strings.Contains(stderr, c.msg) {
				t.Fatalf("exit %d, want %d with %q; stderr:\n%s", code, exitUsage, c.msg, stderr)
			}
		})
	}
}

// headLines copies the first n lines of src into a file in dir.
func headLines(t *testing.T, src, dir string, n int) string {
	t.Helper()
	in, err := os.Open(src)
	if err != nil {
		t.Skipf("real data not available (%v); skipping", err)
	}
	defer in.Close()
	var b strings.Builder
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for i := 0; i < n && sc.Scan(); i++ {
		b.WriteString(sc.Text())
		b.WriteByte('\n')
	}
	path := filepath.Join(dir, "head.ft.txt")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// metricsLines reads a metrics log as one object per line.
func metricsLines(t *testing.T, path string) []map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("metrics line %q: %v", line, err)
		}
		out = append(out, m)
	}
	return out
}

// checkSchedule asserts a metrics line's "schedule": one entry per replica
// name, shares summing to 1 and idle fractions in [0, 1].
func checkSchedule(t *testing.T, m map[string]any, names []string) {
	t.Helper()
	s, ok := m["schedule"].(map[string]any)
	if !ok {
		t.Fatalf("epoch %v has no schedule: %v", m["epoch"], m)
	}
	reps, _ := s["replicas"].([]any)
	if len(reps) != len(names) {
		t.Fatalf("schedule has %d replicas, want %d: %v", len(reps), len(names), s)
	}
	sum := 0.0
	for i, r := range reps {
		r := r.(map[string]any)
		if !strings.HasPrefix(r["name"].(string), names[i]) {
			t.Errorf("replica %d is %v, want %s...", i, r["name"], names[i])
		}
		share, idle := r["share"].(float64), r["idle_frac"].(float64)
		if share < 0 || share > 1 || idle < 0 || idle > 1 {
			t.Errorf("replica %v: share %v, idle %v out of [0, 1]", r["name"], share, idle)
		}
		sum += share
	}
	if math.Abs(sum-1) > 1e-9 {
		t.Errorf("shares sum to %v, want 1", sum)
	}
	if steps := s["steps"].(float64); steps < 1 {
		t.Errorf("schedule over %v steps", steps)
	}
}

// checkAccuracy asserts that an epoch's accuracy fields are probabilities.
func checkAccuracy(t *testing.T, m map[string]any) {
	t.Helper()
	for _, k := range []string{"accuracy", "train_accuracy", "balanced_accuracy"} {
		v, ok := m[k].(float64)
		if !ok || v < 0 || v > 1 {
			t.Errorf("epoch %v: %s = %v, want a value in [0, 1]", m["epoch"], k, m[k])
		}
	}
	if l, ok := m["train_loss"].(float64); !ok || !(l > 0) || math.IsInf(l, 0) {
		t.Errorf("epoch %v: train_loss = %v", m["epoch"], m["train_loss"])
	}
}

// TestTrainHybridScheduleCLI trains on a few hundred real reviews (the
// shared data sit beside the repository, three levels up from here) with the
// hybrid scheduler over two CPU workers and checks the schedule in the
// metrics.
func TestTrainHybridScheduleCLI(t *testing.T) {
	dir := t.TempDir()
	corpus := headLines(t, "../../../shared/data/amazon_polarity/train.ft.txt", dir, 400)
	out := filepath.Join(dir, "run")
	code, stdout, stderr := trainer(t, tinyTrain(corpus, out, filepath.Join(dir, "cache"), "--schedule", "hybrid", "--min-count", "1")...)
	if code != exitOK {
		t.Fatalf("exit %d; stderr:\n%s", code, stderr)
	}
	if !strings.Contains(stdout, "DDP x2 (CPU, hybrid)") {
		t.Fatalf("summary lacks the approach:\n%s", stdout)
	}
	lines := metricsLines(t, filepath.Join(out, "metrics.jsonl"))
	if len(lines) != 2 {
		t.Fatalf("metrics.jsonl has %d lines, want 2", len(lines))
	}
	for _, m := range lines {
		checkSchedule(t, m, []string{"cpu", "cpu"})
		checkAccuracy(t, m)
		if m["workers"] != 2.0 {
			t.Errorf("workers = %v, want the 2 CPU workers behind the scheduler", m["workers"])
		}
		if _, ok := m["loss_scale"]; ok {
			t.Errorf("a CPU run reports a loss scale: %v", m)
		}
	}
	if _, err := model.Load(filepath.Join(out, "model.bin")); err != nil {
		t.Fatal(err)
	}
}

// fakeGPU stands in for a GPU replica: a CPU worker under another name.
type fakeGPU struct{ *train.CPUReplica }

func (f fakeGPU) Name() string { return "fakegpu" }

// fakeGPUPrecisions records the precision of every fakegpu device opened.
var fakeGPUPrecisions []string

// The fakegpu backend opens a device of CPU stand-ins, each stream with a
// dynamic loss scaler under fp16, as the CUDA backend's replicas have, so
// the GPU + CPU wiring (device parsing, hybrid schedule, loss scale in the
// metrics, approach label) is tested in every build.
func init() {
	device.Register("fakegpu", func(spec device.Spec, req device.Request) (*device.Set, error) {
		fakeGPUPrecisions = append(fakeGPUPrecisions, req.Precision)
		set := &device.Set{Name: spec.String(), Precision: req.Precision}
		if req.Precision == "auto" {
			set.Precision = "bf16" // as a GPU of compute capability 8.0 or later resolves it
		}
		for s := 0; s < req.Streams; s++ {
			r, err := train.NewCPUReplica(req.Model, 100+s)
			if err != nil {
				return nil, err
			}
			g := fakeGPU{r}
			set.Replicas, set.Eval = append(set.Replicas, g), append(set.Eval, g)
			if req.Precision == "fp16" {
				set.Scalers = append(set.Scalers, device.NewLossScaler())
			}
		}
		return set, nil
	})
}

func TestTrainGPUHybridWiring(t *testing.T) {
	fakeGPUPrecisions = nil
	dir := t.TempDir()
	corpus := synthCorpus(t, dir, 300, 4)
	cache := filepath.Join(dir, "cache")
	cases := []struct {
		name     string
		extra    []string
		approach string
		names    []string // nil: no schedule expected
		scale    bool
	}{
		{"gpu alone", []string{"--device", "fakegpu:0"}, "AMP bf16 fakegpu:0", nil, false},
		{"amp gpu + 2 cpu", []string{"--device", "fakegpu", "--amp", "--cpu-workers", "2"}, "AMP fp16 fakegpu:0 + 2 CPU (hybrid)", []string{"fakegpu", "cpu", "cpu"}, true},
		{"bf16 2 streams + 1 cpu", []string{"--device", "fakegpu:0", "--amp", "bf16", "--streams", "2", "--cpu-workers", "1"}, "AMP bf16 fakegpu:0 x2 streams + 1 CPU (hybrid)", []string{"fakegpu", "fakegpu", "cpu"}, false},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out := filepath.Join(dir, "run", string(rune('a'+i)))
			args := tinyTrain(corpus, out, cache, c.extra...)
			// tinyTrain sets --cpu-workers 2; the GPU-alone case must not.
			if c.names == nil {
				k := slices.Index(args, "--cpu-workers")
				args = slices.Delete(args, k, k+2)
			}
			code, stdout, stderr := trainer(t, args...)
			if code != exitOK {
				t.Fatalf("exit %d; stderr:\n%s", code, stderr)
			}
			if !strings.Contains(stdout, c.approach) {
				t.Fatalf("summary lacks %q:\n%s", c.approach, stdout)
			}
			f, err := model.Load(filepath.Join(out, "model.bin"))
			if err != nil {
				t.Fatal(err)
			}
			if f.Extra["approach"] != c.approach {
				t.Errorf("model file approach %q, want %q", f.Extra["approach"], c.approach)
			}
			for _, m := range metricsLines(t, filepath.Join(out, "metrics.jsonl")) {
				checkAccuracy(t, m)
				arith := "fp32" // what the label says the device ran
				if strings.HasPrefix(c.approach, "AMP ") {
					arith = strings.Fields(c.approach)[1]
				}
				if m["arithmetic"] != arith {
					t.Errorf("arithmetic %v, want %s", m["arithmetic"], arith)
				}
				if c.names != nil {
					checkSchedule(t, m, c.names)
					if m["workers"] != float64(len(c.names)) || m["ranks"] != 1.0 {
						t.Errorf("workers %v, ranks %v; want the %d replicas behind the scheduler on 1 rank", m["workers"], m["ranks"], len(c.names))
					}
				} else if _, ok := m["schedule"]; ok {
					t.Errorf("GPU alone reports a schedule: %v", m)
				}
				_, hasScale := m["loss_scale"]
				if hasScale != c.scale {
					t.Errorf("loss_scale present %v, want %v: %v", hasScale, c.scale, m)
				}
				if c.scale && (m["loss_scale"].(float64) != device.DefaultInitScale || m["skipped_steps"].(float64) != 0) {
					t.Errorf("loss scale %v, skipped %v; want 65536 and 0", m["loss_scale"], m["skipped_steps"])
				}
			}
		})
	}
	if want := []string{"auto", "fp16", "bf16"}; !slices.Equal(fakeGPUPrecisions, want) {
		t.Fatalf("the backend was asked for precisions %q, want %q", fakeGPUPrecisions, want)
	}
}

package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestFailingLines(t *testing.T) {
	out := `=== RUN   TestGemm
=== RUN   TestGemm/bf16
    kernels_test.go:201: C[3] = 1.5, reference 1.25
        --- FAIL: TestGemm/bf16 (0.01s)
=== RUN   TestGemm/fp32
--- FAIL: TestGemm (0.02s)
some unrelated line
panic: CUDA_ERROR_ILLEGAL_ADDRESS
FAIL
`
	want := []string{
		"kernels_test.go:201: C[3] = 1.5, reference 1.25",
		"--- FAIL: TestGemm/bf16 (0.01s)",
		"--- FAIL: TestGemm (0.02s)",
		"panic: CUDA_ERROR_ILLEGAL_ADDRESS",
		"FAIL",
	}
	if got := failingLines([]byte(out), 12); !slices.Equal(got, want) {
		t.Fatalf("failingLines:\n%q\nwant\n%q", got, want)
	}
	if got := failingLines([]byte(out), 2); len(got) != 2 {
		t.Fatalf("max 2 kept %d lines", len(got))
	}
}

func TestReasonAndClassify(t *testing.T) {
	cases := []struct{ line, want string }{
		{"helpers_test.go:133: no device", "no device"},
		{"--- FAIL: TestX (0.00s)", "--- FAIL: TestX (0.00s)"},
		{"panic: boom: again", "panic: boom: again"},
	}
	for _, c := range cases {
		if got := reason(c.line); got != c.want {
			t.Errorf("reason(%q) = %q, want %q", c.line, got, c.want)
		}
	}
	cls := []struct {
		out      string
		err      error
		timedOut bool
		want     string
	}{
		{"--- PASS: TestA", nil, false, "pass"},
		{"--- SKIP: TestA", nil, false, "skip"},
		{"--- FAIL: TestA", errors.New("exit 1"), false, "fail"},
		{"", errors.New("killed"), true, "timeout"},
	}
	for _, c := range cls {
		if got := classify([]byte(c.out), c.err, c.timedOut); got != c.want {
			t.Errorf("classify(%q, %v, %v) = %s, want %s", c.out, c.err, c.timedOut, got, c.want)
		}
	}
}

// TestRunTests runs a stand-in test binary (a shell script answering
// -test.list and -test.run like a Go test binary) and checks that each test
// ran alone, the failing one twice (the second with
// CUDA_LAUNCH_BLOCKING=1), and tests.json says so.
func TestRunTests(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "fake.test")
	script := `#!/bin/sh
case "$1" in
-test.list) printf 'TestGood\nTestBad\nTestSkip\nBenchmarkX\n' ;;
-test.run)
	echo "run $2 blocking=${CUDA_LAUNCH_BLOCKING:-0} device=$TRAINER_TEST_DEVICE" >>"` + dir + `/calls"
	case "$2" in
	'^TestGood$') echo "--- PASS: TestGood (0.00s)" ;;
	'^TestSkip$') echo "--- SKIP: TestSkip (0.00s)" ;;
	'^TestBad$') echo "    bad_test.go:7: illegal address"; echo "--- FAIL: TestBad (0.00s)"; exit 1 ;;
	esac ;;
esac
`
	if err := os.WriteFile(bin, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	var stdout bytes.Buffer
	err := runTests([]string{"--out", out, "--device", "cuda:0", bin, filepath.Join(dir, "missing.test")}, &stdout)
	if err == nil {
		t.Fatal("a failing test and a missing binary gave no error")
	}
	calls, _ := os.ReadFile(filepath.Join(dir, "calls"))
	wantCalls := "run ^TestGood$ blocking=0 device=cuda:0\nrun ^TestBad$ blocking=0 device=cuda:0\nrun ^TestBad$ blocking=1 device=cuda:0\nrun ^TestSkip$ blocking=0 device=cuda:0\n"
	if string(calls) != wantCalls {
		t.Fatalf("calls:\n%s\nwant\n%s", calls, wantCalls)
	}
	var rep testsReport
	b, err := os.ReadFile(filepath.Join(out, "tests.json"))
	if err != nil || json.Unmarshal(b, &rep) != nil {
		t.Fatalf("tests.json: %v", err)
	}
	if len(rep.Runs) != 3 || len(rep.Missing) != 1 {
		t.Fatalf("%d runs, %d missing; want 3 and 1: %+v", len(rep.Runs), len(rep.Missing), rep)
	}
	bad := rep.Runs[1]
	if bad.Status != "fail" || bad.Blocking == nil || bad.Blocking.Status != "fail" || !slices.Contains(bad.Failing, "bad_test.go:7: illegal address") {
		t.Fatalf("failing test recorded as %+v", bad)
	}
	if rep.Runs[0].Status != "pass" || rep.Runs[2].Status != "skip" {
		t.Fatalf("statuses %s, %s; want pass, skip", rep.Runs[0].Status, rep.Runs[2].Status)
	}
	// A line per test as it ends, so that a stage cut short by its cap
	// still leaves a log of how far it got.
	for _, want := range []string{" TestGood: pass (", " TestBad: fail (", " TestSkip: skip ("} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout.String())
		}
	}
}

func TestPTXFor(t *testing.T) {
	cases := []struct{ cc, want string }{
		{"9.0", "compute_90"},
		{"8.9", "compute_80"},
		{"8.0", "compute_80"},
		{"7.5", "none: "},
		{"", "unknown"},
	}
	for _, c := range cases {
		if got := ptxFor(c.cc); !strings.Contains(got, c.want) {
			t.Errorf("ptxFor(%q) = %q, want it to contain %q", c.cc, got, c.want)
		}
	}
}

// writeFiles lays out a results directory.
func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestSummarize builds summary.json from a results directory like a device
// run leaves, one epoch complete and one cut short, and checks the figures,
// the floors (nothing estimated) and the line limit.
func TestSummarize(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"stages.tsv":               "environment\tok\t0\t2\tcap\ncorrectness\tfailed\t1\t30\tcap\ntrain-bf16\tok\t0\t50\tcap\ntrain-fp16\ttimeout\t124\t75\tcap\n",
		"glibc.txt":                "2.35\n",
		"gpu.csv":                  "NVIDIA H200, 560.1, 9.0, 1980 MHz, 3201 MHz, 700.00 W, Disabled, Enabled, 143771 MiB, 0000:1\n",
		"tests.json":               `{"device":"cuda:0","tests":[{"binary":"kernels.test","name":"TestA","status":"pass"},{"binary":"kernels.test","name":"TestB","status":"fail","failing_lines":["k_test.go:3: bad"],"blocking_rerun":{"binary":"kernels.test","name":"TestB","status":"fail"}}]}`,
		"bench/go.json":            `[{"precision":"bf16","tokens_per_s":2000000,"reviews_per_s":25000,"epoch_seconds_3_6m":144}]`,
		"bench/pytorch.json":       `{"available":true,"results":[{"precision":"bf16","tokens_per_s":1000000,"reviews_per_s":12500,"epoch_seconds_3_6m":288}]}`,
		"train/bf16/metrics.jsonl": `{"epoch":1,"seconds":50,"tokens_per_s":5e6,"reviews_per_s":72000,"skipped_steps":0}` + "\n",
		"logs/train-fp16.log":      `{"level":"info","msg":"x"}` + "\n" + `{"stage":"train epoch 1","done":900000,"reviews_per_s":12000,"seconds":74}` + "\n",
		"smi-samples.csv":          "t, 1000, 50, 300.5, 1980\nt, 52000, 99, 650.0, 1755\n",
	})
	var stdout bytes.Buffer
	if err := summarize([]string{"--out", dir, "--budget", "540", "--elapsed", "300"}, &stdout); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "summary.json"))
	if err != nil {
		t.Fatal(err)
	}
	var s map[string]any
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatalf("summary.json is not JSON: %v", err)
	}
	dev := s["device"].(map[string]any)
	if dev["name"] != "NVIDIA H200" || !strings.Contains(dev["ptx_chosen"].(string), "compute_90") {
		t.Errorf("device %v", dev)
	}
	if r := s["go_over_pytorch"].(map[string]any)["bf16"]; r != 2.0 {
		t.Errorf("bf16 ratio %v, want 2", r)
	}
	train := s["train"].(map[string]any)
	if bf := train["bf16"].(map[string]any); bf["epoch_complete"] != true || bf["reviews"] != 3600000.0 {
		t.Errorf("bf16 train %v", bf)
	}
	if fp := train["fp16"].(map[string]any); fp["epoch_complete"] != false || fp["done"] != 900000.0 || fp["partial"] == nil {
		t.Errorf("fp16 train %v, want partial with 900000 done", fp)
	}
	fl := s["floors"].(map[string]any)
	if e := fl["epoch_3_6m_bf16"].(map[string]any); e["met"] != true {
		t.Errorf("bf16 epoch floor %v", e)
	}
	if e, ok := fl["epoch_3_6m_fp16"].(string); !ok || !strings.HasPrefix(e, "not measured") {
		t.Errorf("fp16 epoch floor %v, want not measured", fl["epoch_3_6m_fp16"])
	}
	if m := s["monitor"].(map[string]any); m["peak_memory_mib"] != 52000.0 {
		t.Errorf("monitor %v", m)
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	if len(lines) > maxSummaryLines {
		t.Errorf("%d summary lines, want at most %d", len(lines), maxSummaryLines)
	}
	for _, want := range []string{"NVIDIA H200", "FAIL kernels.test TestB", "PARTIAL epoch", "vs pytorch 2.00x"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, stdout.String())
		}
	}
}

func TestSummarizeNoDevice(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"stages.tsv": "environment\tfailed\t0\t0\tno NVIDIA device: nvidia-smi not found\n"})
	var stdout bytes.Buffer
	if err := summarize([]string{"--out", dir}, &stdout); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(filepath.Join(dir, "summary.json"))
	var s map[string]any
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	if s["device"] != nil || !strings.HasPrefix(s["no_device"].(string), "no NVIDIA device") {
		t.Fatalf("device %v, no_device %v", s["device"], s["no_device"])
	}
}

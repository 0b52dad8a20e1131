package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"trainer/kernels"
)

// maxSummaryLines bounds what summarize prints: the run's output tail is
// all that survives of a device run besides $OUT, and run.sh prints one
// line per stage before it.
const maxSummaryLines = 24

// epochReviews is the epoch the floors are stated for.
const epochReviews = 3_600_000

// stageRow is one row of stages.tsv.
type stageRow struct {
	Name    string `json:"name"`
	Status  string `json:"status"` // ok, failed, timeout, skipped
	Exit    int    `json:"exit"`
	Seconds int    `json:"seconds"`
	Note    string `json:"note"`
}

// summary is summary.json.
type summary struct {
	Device      *deviceInfo     `json:"device"` // null: no NVIDIA device
	NoDevice    string          `json:"no_device,omitempty"`
	Glibc       string          `json:"glibc"`
	Bundle      map[string]any  `json:"bundle"`
	BudgetS     int             `json:"budget_s"`
	ElapsedS    int             `json:"elapsed_s"`
	Stages      []stageRow      `json:"stages"`
	Torch       json.RawMessage `json:"torch"`
	Tests       *testsSummary   `json:"tests"`
	Report      map[string]any  `json:"device_report"` // files the CUDA tests wrote under TRAINER_GPU_REPORT
	Phases      any             `json:"phases"`
	GoBench     json.RawMessage `json:"go_bench"`
	PyTorch     json.RawMessage `json:"pytorch"`
	Ratio       map[string]any  `json:"go_over_pytorch"`
	Train       map[string]any  `json:"train"`
	Hybrid      map[string]any  `json:"hybrid"`
	Monitor     map[string]any  `json:"monitor"`
	Floors      map[string]any  `json:"floors"`
	Unavailable []string        `json:"not_available"`
}

// deviceInfo is what nvidia-smi says of GPU 0.
type deviceInfo struct {
	Name        string `json:"name"`
	Driver      string `json:"driver"`
	CUDA        string `json:"cuda"`
	ComputeCap  string `json:"compute_capability"`
	SMs         string `json:"sms"`
	MaxSMClock  string `json:"max_sm_clock"`
	MaxMemClock string `json:"max_mem_clock"`
	PowerLimit  string `json:"power_limit"`
	MIG         string `json:"mig"`
	ECC         string `json:"ecc"`
	Memory      string `json:"memory"`
	PTX         string `json:"ptx_chosen"`
}

// testsSummary condenses tests.json.
type testsSummary struct {
	Passed  int       `json:"passed"`
	Skipped int       `json:"skipped"`
	Failed  []testRun `json:"failed"`
	Missing []string  `json:"missing_binaries,omitempty"`
}

func summarize(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("summarize", flag.ContinueOnError)
	out := fs.String("out", "", "results directory")
	bundle := fs.String("bundle", "", "the bundle directory (MANIFEST)")
	budget := fs.Int("budget", 0, "the run's budget in seconds")
	elapsed := fs.Int("elapsed", 0, "seconds the run took")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *out == "" {
		return errors.New("summarize: --out is required")
	}
	s := collect(*out, *bundle)
	s.BudgetS, s.ElapsedS = *budget, *elapsed
	if err := writeJSON(filepath.Join(*out, "summary.json"), s); err != nil {
		return err
	}
	lines := s.lines()
	if len(lines) > maxSummaryLines {
		n := len(lines) - maxSummaryLines + 1
		lines = append(lines[:maxSummaryLines-1], fmt.Sprintf("... %d more lines in summary.json", n))
	}
	for _, l := range lines {
		fmt.Fprintln(stdout, l)
	}
	return nil
}

// collect reads every file a run may have left; a missing one leaves its
// part empty or says why.
func collect(out, bundle string) summary {
	s := summary{Report: map[string]any{}, Ratio: map[string]any{}, Train: map[string]any{}, Hybrid: map[string]any{}, Monitor: map[string]any{}, Floors: map[string]any{}}
	s.Stages = readStages(filepath.Join(out, "stages.tsv"))
	s.Glibc = strings.TrimSpace(readString(filepath.Join(out, "glibc.txt")))
	s.Bundle = readManifest(filepath.Join(bundle, "MANIFEST"))
	for _, st := range s.Stages {
		if st.Name == "environment" && strings.HasPrefix(st.Note, "no NVIDIA device") {
			s.NoDevice = st.Note
			return s
		}
	}
	s.Device = readDevice(out)
	if s.Device != nil && strings.HasPrefix(s.Device.SMs, "not") {
		s.Unavailable = append(s.Unavailable, "SM count: nvidia-smi does not report it and this build's cuda package does not expose it")
	}
	s.Torch = readRaw(filepath.Join(out, "torch.json"), `"absent: no torch.json (python3 missing or the probe failed)"`)
	s.Tests = readTests(filepath.Join(out, "tests.json"))
	readReport(filepath.Join(out, "report"), &s)
	s.Phases = readPhases(filepath.Join(out, "logs", "phases.log"))
	if s.Phases == nil {
		s.Phases = "per-phase timing: not available in this build"
		s.Unavailable = append(s.Unavailable, "per-phase device time (CUDA events), launches and syncs per step, step time against T")
	}
	s.GoBench = readRaw(filepath.Join(out, "bench", "go.json"), `null`)
	s.PyTorch = readRaw(filepath.Join(out, "bench", "pytorch.json"), `"unavailable: no bench/pytorch.json (see logs/pytorch.log)"`)
	s.Ratio = ratios(s.GoBench, s.PyTorch)
	for _, st := range s.Stages {
		if p, ok := strings.CutPrefix(st.Name, "train-"); ok {
			s.Train[p] = readTrain(filepath.Join(out, "train", p), filepath.Join(out, "logs", st.Name+".log"), st)
		}
	}
	s.Unavailable = append(s.Unavailable, "rows per replica of each hybrid step (metrics.jsonl has the epoch's shares, last split and model)")
	for _, name := range []string{"hybrid-gpu", "hybrid"} {
		for _, st := range s.Stages {
			if st.Name == name {
				s.Hybrid[name] = readTrain(filepath.Join(out, "train", name), filepath.Join(out, "logs", name+".log"), st)
			}
		}
	}
	s.Monitor = readSamples(filepath.Join(out, "smi-samples.csv"), filepath.Join(out, "dmon.txt"))
	s.Floors = floors(s)
	return s
}

func readString(path string) string {
	b, _ := os.ReadFile(path)
	return string(b)
}

// readRaw returns a JSON file as it is, or dflt (valid JSON) when it is
// missing or not JSON.
func readRaw(path, dflt string) json.RawMessage {
	b, err := os.ReadFile(path)
	if err != nil || !json.Valid(b) {
		if err == nil {
			return json.RawMessage(strconv.Quote("invalid JSON in " + filepath.Base(path)))
		}
		return json.RawMessage(dflt)
	}
	return json.RawMessage(bytes.TrimSpace(b))
}

// readStages parses stages.tsv (name, status, exit, seconds, note).
func readStages(path string) []stageRow {
	var rows []stageRow
	for _, l := range strings.Split(readString(path), "\n") {
		f := strings.SplitN(l, "\t", 5)
		if len(f) < 5 {
			continue
		}
		exit, _ := strconv.Atoi(f[2])
		secs, _ := strconv.Atoi(f[3])
		rows = append(rows, stageRow{Name: f[0], Status: f[1], Exit: exit, Seconds: secs, Note: f[4]})
	}
	return rows
}

// readManifest parses the bundle's KEY=VALUE manifest.
func readManifest(path string) map[string]any {
	m := map[string]any{}
	for _, l := range strings.Split(readString(path), "\n") {
		if k, v, ok := strings.Cut(l, "="); ok {
			m[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	return m
}

// readDevice parses gpu.csv (run.sh's nvidia-smi query) and the CUDA
// version from nvidia-smi -q, and names the PTX the kernels package picks
// for the compute capability.
func readDevice(out string) *deviceInfo {
	line := strings.TrimSpace(strings.SplitN(readString(filepath.Join(out, "gpu.csv")), "\n", 2)[0])
	if line == "" {
		return nil
	}
	f := strings.Split(line, ",")
	for i := range f {
		f[i] = strings.TrimSpace(f[i])
	}
	get := func(i int) string {
		if i < len(f) {
			return f[i]
		}
		return ""
	}
	d := &deviceInfo{Name: get(0), Driver: get(1), ComputeCap: get(2), MaxSMClock: get(3), MaxMemClock: get(4),
		PowerLimit: get(5), MIG: get(6), ECC: get(7), Memory: get(8), SMs: "not reported by nvidia-smi"}
	if m := regexp.MustCompile(`CUDA Version\s*:\s*(\S+)`).FindStringSubmatch(readString(filepath.Join(out, "nvidia-smi-q.txt"))); m != nil {
		d.CUDA = m[1]
	}
	d.PTX = ptxFor(d.ComputeCap)
	return d
}

// ptxFor names the PTX modules the kernels package loads on a device of
// compute capability cc ("9.0").
func ptxFor(cc string) string {
	major, minor, ok := strings.Cut(cc, ".")
	ma, err1 := strconv.Atoi(major)
	mi, err2 := strconv.Atoi(minor)
	if !ok || err1 != nil || err2 != nil {
		return fmt.Sprintf("unknown (compute capability %q)", cc)
	}
	mods, err := kernels.ForDevice(ma, mi)
	if err != nil {
		return "none: " + err.Error()
	}
	var names []string
	for _, m := range mods {
		names = append(names, fmt.Sprintf("%s.compute_%d", m.Name, m.Arch))
	}
	sort.Strings(names)
	return strings.Join(names, " ")
}

// readTests condenses tests.json: counts, and each failing test with its
// lines and its blocking rerun.
func readTests(path string) *testsSummary {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	var rep testsReport
	if json.Unmarshal(b, &rep) != nil {
		return &testsSummary{Missing: []string{"tests.json is not valid JSON"}}
	}
	t := &testsSummary{Missing: rep.Missing}
	for _, r := range rep.Runs {
		switch r.Status {
		case "pass":
			t.Passed++
		case "skip":
			t.Skipped++
		default:
			t.Failed = append(t.Failed, r)
		}
	}
	return t
}

// readReport takes the JSON files the CUDA tests wrote under
// TRAINER_GPU_REPORT (parity.json, resources.json, ...), by base name.
func readReport(dir string, s *summary) {
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if name, ok := strings.CutSuffix(e.Name(), ".json"); ok {
			s.Report[name] = readRaw(filepath.Join(dir, e.Name()), `null`)
		}
	}
	if _, ok := s.Report["parity"]; !ok {
		s.Unavailable = append(s.Unavailable, "full-size GPU-vs-CPU parity per precision (no report/parity.json from the CUDA tests)")
	}
	if _, ok := s.Report["resources"]; !ok {
		s.Unavailable = append(s.Unavailable, "JIT compile time, registers and local memory per kernel (no report/resources.json from the CUDA tests)")
	}
}

// benchLine is one line of go test -bench output.
var benchLine = regexp.MustCompile(`^(Benchmark\S+)\s+(\d+)\s+(.*)$`)

// readPhases parses the benchmark lines of the phases stage: name and
// every "value unit" pair (ns/op and the benchmarks' own metrics).
func readPhases(path string) any {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []map[string]any
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		m := benchLine.FindStringSubmatch(strings.TrimSpace(sc.Text()))
		if m == nil {
			continue
		}
		row := map[string]any{"name": m[1]}
		fields := strings.Fields(m[3])
		for i := 0; i+1 < len(fields); i += 2 {
			if v, err := strconv.ParseFloat(fields[i], 64); err == nil {
				row[fields[i+1]] = v
			}
		}
		out = append(out, row)
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// benchFigures is what go.json and pytorch.json share.
type benchFigures struct {
	Precision    string  `json:"precision"`
	TokensPerS   float64 `json:"tokens_per_s"`
	ReviewsPerS  float64 `json:"reviews_per_s"`
	EpochSeconds float64 `json:"epoch_seconds_3_6m"`
}

// ratios is Go over PyTorch tokens/s per precision, where both ran.
func ratios(goRaw, ptRaw json.RawMessage) map[string]any {
	out := map[string]any{}
	var g []benchFigures
	if json.Unmarshal(goRaw, &g) != nil {
		return out
	}
	var pt struct {
		Results []benchFigures `json:"results"`
	}
	if json.Unmarshal(ptRaw, &pt) != nil {
		return out
	}
	for _, gf := range g {
		for _, pf := range pt.Results {
			if gf.Precision == pf.Precision && pf.TokensPerS > 0 {
				out[gf.Precision] = round(gf.TokensPerS/pf.TokensPerS, 3)
			}
		}
	}
	return out
}

// readTrain reads one trainer run: the epoch line of metrics.jsonl when
// the epoch ended, else the last progress event of its log (throughput and
// reviews done, labelled partial).
func readTrain(dir, log string, st stageRow) map[string]any {
	r := map[string]any{"stage": st.Status}
	if line := lastLine(filepath.Join(dir, "metrics.jsonl")); line != "" {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil {
			r["epoch_complete"] = true
			for _, k := range []string{"seconds", "tokens", "tokens_per_s", "reviews_per_s", "steps", "skipped_steps", "loss_scale", "train_loss", "precision", "schedule"} {
				if v, ok := m[k]; ok {
					r[k] = v
				}
			}
			if rps, ok := m["reviews_per_s"].(float64); ok {
				if secs, ok := m["seconds"].(float64); ok {
					r["reviews"] = int(rps*secs + 0.5)
				}
			}
			return r
		}
	}
	r["epoch_complete"] = false
	var last map[string]any
	for _, l := range strings.Split(readString(log), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(l), &m) != nil {
			continue
		}
		if stage, _ := m["stage"].(string); strings.Contains(stage, "train") || strings.Contains(stage, "epoch") {
			last = m
		}
	}
	if last != nil {
		r["partial"] = "epoch cut short by the stage cap: throughput and reviews done so far"
		for k, v := range last {
			r[k] = v
		}
	} else if tail := lastLines(log, 3); tail != "" {
		r["log_tail"] = tail
	}
	return r
}

func lastLine(path string) string {
	lines := strings.Split(strings.TrimSpace(readString(path)), "\n")
	return lines[len(lines)-1]
}

func lastLines(path string, n int) string {
	lines := strings.Split(strings.TrimSpace(readString(path)), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}

// readSamples takes the peak device memory, power and clock from the
// nvidia-smi query samples, and counts the dmon samples.
func readSamples(samples, dmon string) map[string]any {
	m := map[string]any{"samples": 0}
	peakMem, peakPower, minClock, n := 0.0, 0.0, 0.0, 0
	for _, l := range strings.Split(readString(samples), "\n") {
		f := strings.Split(l, ",")
		if len(f) < 5 {
			continue
		}
		mem, err1 := strconv.ParseFloat(strings.TrimSpace(f[1]), 64)
		pow, err2 := strconv.ParseFloat(strings.TrimSpace(f[3]), 64)
		clk, err3 := strconv.ParseFloat(strings.TrimSpace(f[4]), 64)
		if err1 != nil {
			continue
		}
		n++
		peakMem = max(peakMem, mem)
		if err2 == nil {
			peakPower = max(peakPower, pow)
		}
		if err3 == nil && (minClock == 0 || clk < minClock) {
			minClock = clk
		}
	}
	if n > 0 {
		m["samples"] = n
		m["peak_memory_mib"] = peakMem
		m["peak_power_w"] = peakPower
		m["min_sm_clock_mhz"] = minClock
	}
	d := 0
	for _, l := range strings.Split(readString(dmon), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			d++
		}
	}
	m["dmon_samples"] = d
	return m
}

// floors checks the floors where a measurement exists: Go at least
// 1.0x PyTorch + cuDNN per precision, and one measured epoch of 3.6M
// reviews in at most 60 s. Nothing is estimated: a floor without its
// measurement says so.
func floors(s summary) map[string]any {
	f := map[string]any{}
	for p, r := range s.Ratio {
		f["go_vs_pytorch_"+p] = map[string]any{"ratio": r, "met": r.(float64) >= 1.0}
	}
	if len(s.Ratio) == 0 {
		f["go_vs_pytorch"] = "not measured (the Go or the PyTorch benchmark did not run)"
	}
	for p, v := range s.Train {
		t := v.(map[string]any)
		secs, ok := t["seconds"].(float64)
		reviews, _ := t["reviews"].(int)
		switch {
		case t["epoch_complete"] == true && ok && reviews >= epochReviews*99/100:
			f["epoch_3_6m_"+p] = map[string]any{"seconds": secs, "met": secs <= 60}
		default:
			f["epoch_3_6m_"+p] = "not measured (no complete epoch of 3.6M reviews in this run)"
		}
	}
	return f
}

func round(v float64, digits int) float64 {
	p := 1.0
	for range digits {
		p *= 10
	}
	return float64(int64(v*p+0.5)) / p
}

// lines is the stdout summary.
func (s summary) lines() []string {
	var out []string
	add := func(format string, a ...any) { out = append(out, fmt.Sprintf(format, a...)) }
	add("== gpu-check summary (%ds of %ds; everything in summary.json)", s.ElapsedS, s.BudgetS)
	if s.Device == nil {
		why := s.NoDevice
		if why == "" {
			why = "no gpu.csv from nvidia-smi"
		}
		add("device: none (%s)", why)
		add("glibc %s; bundle %v", s.Glibc, s.Bundle["version"])
		return out
	}
	d := s.Device
	add("device: %s, driver %s, CUDA %s, cc %s, %s, MIG %s, ECC %s", d.Name, d.Driver, d.CUDA, d.ComputeCap, d.Memory, d.MIG, d.ECC)
	add("ptx: %s; glibc %s; torch %s", d.PTX, s.Glibc, oneLine(s.Torch, 60))
	var bad []string
	for _, st := range s.Stages {
		if st.Status != "ok" {
			bad = append(bad, fmt.Sprintf("%s %s", st.Name, st.Status))
		}
	}
	if len(bad) > 0 {
		add("stages not ok: %s", strings.Join(bad, ", "))
	}
	if t := s.Tests; t != nil {
		add("tests: %d passed, %d skipped, %d failed", t.Passed, t.Skipped, len(t.Failed))
		// Tests failing for one reason (no device, a bad module) are one
		// line: the reason and how many.
		shown, same := 0, map[string]int{}
		for _, f := range t.Failed {
			first := ""
			if len(f.Failing) > 0 {
				first = reason(f.Failing[0])
			}
			same[first]++
			if same[first] > 1 {
				continue
			}
			if shown == 4 {
				add("  ... more failing tests in summary.json")
				break
			}
			shown++
			blocking := ""
			if f.Blocking != nil {
				blocking = ", CUDA_LAUNCH_BLOCKING=1 rerun: " + f.Blocking.Status
			}
			add("  FAIL %s %s (%s%s)", f.Binary, f.Name, f.Status, blocking)
			for j, l := range f.Failing {
				if j == 2 {
					break
				}
				add("    %s", clip(l, 110))
			}
		}
		for first, n := range same {
			if n > 1 {
				add("  %d failing tests share the first line: %s", n, clip(first, 90))
			}
		}
	}
	var g []benchFigures
	_ = json.Unmarshal(s.GoBench, &g)
	for _, b := range g {
		r := "n/a"
		if v, ok := s.Ratio[b.Precision]; ok {
			r = fmt.Sprintf("%.2fx", v)
		}
		add("go-bench %-4s %.0f tok/s %.0f rev/s, vs pytorch %s", b.Precision, b.TokensPerS, b.ReviewsPerS, r)
	}
	if len(g) == 0 || len(s.Ratio) == 0 {
		add("pytorch: %s", oneLine(s.PyTorch, 100))
	}
	keys := make([]string, 0, len(s.Train))
	for k := range s.Train {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, p := range keys {
		t := s.Train[p].(map[string]any)
		switch {
		case t["epoch_complete"] == true:
			add("train %-4s epoch %v s, %v reviews, %v tok/s, skipped %v, scale %v", p, t["seconds"], t["reviews"], t["tokens_per_s"], t["skipped_steps"], t["loss_scale"])
		case t["partial"] != nil:
			add("train %-4s PARTIAL epoch (%s): %v reviews done, %v reviews/s", p, t["stage"], t["done"], t["reviews_per_s"])
		default:
			add("train %-4s %s: %v", p, t["stage"], clip(fmt.Sprint(t["log_tail"]), 100))
		}
	}
	hyb, _ := s.Hybrid["hybrid"].(map[string]any)
	alone, _ := s.Hybrid["hybrid-gpu"].(map[string]any)
	switch {
	case hyb == nil:
	case hyb["epoch_complete"] == true && alone["epoch_complete"] == true:
		add("hybrid 4 CPU: epoch %v s against the GPU alone %v s", hyb["seconds"], alone["seconds"])
	default:
		add("hybrid: %s, GPU alone: %s (see summary.json hybrid)", hyb["stage"], alone["stage"])
	}
	if v, ok := s.Monitor["peak_memory_mib"]; ok {
		add("peak device memory %v MiB, peak power %v W, %v samples", v, s.Monitor["peak_power_w"], s.Monitor["samples"])
	}
	fl, _ := json.Marshal(s.Floors)
	add("floors: %s", clip(string(fl), 300))
	if len(s.Unavailable) > 0 {
		add("not available in this build: %d items (summary.json not_available)", len(s.Unavailable))
	}
	return out
}

func oneLine(raw json.RawMessage, n int) string {
	return clip(strings.Join(strings.Fields(string(raw)), " "), n)
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-3] + "..."
}

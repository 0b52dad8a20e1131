package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"time"

	"trainer/internal/atomicfile"
)

// testRun is one test of one binary, run in a process of its own.
type testRun struct {
	Binary  string   `json:"binary"`
	Name    string   `json:"name"`
	Status  string   `json:"status"` // pass, fail, skip, timeout, not run
	Seconds float64  `json:"seconds"`
	Log     string   `json:"log"`
	Failing []string `json:"failing_lines,omitempty"` // the --- FAIL lines and the lines they print
	// Blocking is the rerun of a failed test alone with
	// CUDA_LAUNCH_BLOCKING=1, where each launch reports its own fault.
	Blocking *testRun `json:"blocking_rerun,omitempty"`
}

// testsReport is tests.json.
type testsReport struct {
	Device  string    `json:"device"`
	Runs    []testRun `json:"tests"`
	Missing []string  `json:"missing_binaries,omitempty"`
}

// maxFailingLines bounds the lines kept of one failing test.
const maxFailingLines = 12

// runTests implements "gpu-report tests": every Test function of every
// binary in its own process, so that an illegal address, which poisons the
// CUDA context for the rest of the process, fails only the test that caused
// it. A failing test is run again with CUDA_LAUNCH_BLOCKING=1.
func runTests(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("tests", flag.ContinueOnError)
	out := fs.String("out", "", "results directory (writes tests.json and logs/tests/)")
	device := fs.String("device", "cuda:0", "TRAINER_TEST_DEVICE for the tests; empty runs them on the host emulator")
	perTest := fs.Duration("per-test", 120*time.Second, "time limit of one test")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *out == "" {
		return errors.New("tests: --out is required")
	}
	logDir := filepath.Join(*out, "logs", "tests")
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		return fmt.Errorf("tests: %w", err)
	}
	rep := testsReport{Device: *device}
	for _, bin := range fs.Args() {
		base := filepath.Base(bin)
		names, err := listTests(bin)
		if err != nil {
			rep.Missing = append(rep.Missing, fmt.Sprintf("%s: %v", base, err))
			fmt.Fprintf(stdout, "%s: cannot list tests: %v\n", base, err)
			continue
		}
		pass, fail := 0, 0
		for _, name := range names {
			r := runOne(bin, name, *device, logDir, *perTest, false)
			if r.Status == "fail" || r.Status == "timeout" {
				b := runOne(bin, name, *device, logDir, *perTest, true)
				r.Blocking = &b
				fail++
			} else if r.Status == "pass" || r.Status == "skip" {
				pass++
			}
			rep.Runs = append(rep.Runs, r)
			// One line and tests.json after every test, so that a stage
			// cap cutting the loop short keeps what was done and the log
			// shows where it stopped.
			fmt.Fprintf(stdout, "%s %s: %s (%.1fs)\n", base, name, r.Status, r.Seconds)
			if err := writeJSON(filepath.Join(*out, "tests.json"), rep); err != nil {
				return err
			}
		}
		fmt.Fprintf(stdout, "%s: %d tests, %d passed or skipped, %d failed\n", base, len(names), pass, fail)
	}
	if err := writeJSON(filepath.Join(*out, "tests.json"), rep); err != nil {
		return err
	}
	for _, r := range rep.Runs {
		if r.Status != "pass" && r.Status != "skip" {
			return errors.New("tests: some tests failed")
		}
	}
	if len(rep.Missing) > 0 {
		return errors.New("tests: some binaries could not be listed")
	}
	return nil
}

// listTests returns the Test functions of a Go test binary.
func listTests(bin string) ([]string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, "-test.list", "^Test").Output()
	if err != nil {
		return nil, err
	}
	var names []string
	for _, l := range strings.Split(string(out), "\n") {
		if l = strings.TrimSpace(l); strings.HasPrefix(l, "Test") {
			names = append(names, l)
		}
	}
	return names, nil
}

// runOne runs one test of bin in its own process and classifies it.
func runOne(bin, name, device, logDir string, limit time.Duration, blocking bool) testRun {
	base := filepath.Base(bin)
	suffix := ".log"
	if blocking {
		suffix = ".blocking.log"
	}
	logPath := filepath.Join(logDir, base+"."+name+suffix)
	r := testRun{Binary: base, Name: name, Log: logPath}
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "-test.run", "^"+regexp.QuoteMeta(name)+"$", "-test.v", "-test.count=1", "-test.timeout=0")
	cmd.Env = append(os.Environ(), "TRAINER_TEST_DEVICE="+device)
	if blocking {
		cmd.Env = append(cmd.Env, "CUDA_LAUNCH_BLOCKING=1")
	}
	// Its own process group, so that the time limit also ends what the
	// test started.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	t0 := time.Now()
	err := cmd.Run()
	r.Seconds = time.Since(t0).Seconds()
	_ = os.WriteFile(logPath, buf.Bytes(), 0o644)
	r.Status = classify(buf.Bytes(), err, ctx.Err() != nil)
	if r.Status != "pass" && r.Status != "skip" {
		r.Failing = failingLines(buf.Bytes(), maxFailingLines)
	}
	return r
}

// classify names a test's outcome from its -test.v output and exit.
func classify(out []byte, err error, timedOut bool) string {
	switch {
	case timedOut:
		return "timeout"
	case err != nil:
		return "fail"
	case bytes.Contains(out, []byte("--- SKIP")) && !bytes.Contains(out, []byte("--- PASS")):
		return "skip"
	}
	return "pass"
}

// failingLines picks what a failing test said: every line with --- FAIL
// (subtests indent theirs), every file:line message of the test log (go
// test -v streams them before the --- FAIL line they belong to), panics and
// faults, up to max lines.
var (
	faultLine = regexp.MustCompile(`panic:|fatal error:|CUDA_ERROR|illegal|signal SIGSEGV|^FAIL\b`)
	logLine   = regexp.MustCompile(`^\s+\S+\.go:\d+: `)
)

func failingLines(out []byte, max int) []string {
	var keep []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() && len(keep) < max {
		l := sc.Text()
		if strings.Contains(l, "--- FAIL") || logLine.MatchString(l) || faultLine.MatchString(l) {
			keep = append(keep, strings.TrimSpace(l))
		}
	}
	return keep
}

// reason is a failing line without its file:line, so that tests failing
// for one reason group together.
func reason(line string) string {
	if _, msg, ok := strings.Cut(line, ": "); ok && strings.Contains(line[:len(line)-len(msg)], ".go:") {
		return msg
	}
	return line
}

// writeJSON writes v indented to path, atomically.
func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encode %s: %w", filepath.Base(path), err)
	}
	if err := atomicfile.WriteBytes(path, b, []byte("\n")); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

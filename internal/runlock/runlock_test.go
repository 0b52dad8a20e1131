package runlock

import (
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestAcquireIsExclusive(t *testing.T) {
	dir := t.TempDir()
	l, err := Acquire(dir)
	if err != nil {
		t.Fatal(err)
	}
	// A second open file description conflicts even in one process, as a
	// second trainer process would.
	_, err = Acquire(dir)
	pid := strconv.Itoa(os.Getpid())
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), "process "+pid) || !strings.Contains(err.Error(), dir) {
		t.Fatalf("second Acquire: %v; want ErrLocked naming %s and pid %s", err, dir, pid)
	}
	if err := l.Release(); err != nil {
		t.Fatal(err)
	}
	if err := l.Release(); err != nil {
		t.Fatalf("second Release: %v", err)
	}
	l2, err := Acquire(dir)
	if err != nil {
		t.Fatalf("after Release: %v", err)
	}
	l2.Release()
}

func TestAcquireErrors(t *testing.T) {
	if _, err := Acquire(filepath.Join(t.TempDir(), "missing")); err == nil || errors.Is(err, ErrLocked) {
		t.Fatalf("missing directory: %v", err)
	}
}

// TestLockDiesWithHolder: a holder killed with SIGKILL leaves its lock file
// but not its lock. The holder is this test binary, re-run as a helper that
// takes the lock and waits.
func TestLockDiesWithHolder(t *testing.T) {
	if dir := os.Getenv("RUNLOCK_HOLD"); dir != "" {
		if _, err := Acquire(dir); err != nil {
			os.Exit(3)
		}
		os.Stdout.WriteString("held\n")
		time.Sleep(time.Minute)
		os.Exit(0)
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestLockDiesWithHolder$")
	cmd.Env = append(os.Environ(), "RUNLOCK_HOLD="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	buf := make([]byte, 5)
	if _, err := io.ReadFull(out, buf); err != nil || string(buf) != "held\n" {
		t.Fatalf("helper: %q %v", buf, err)
	}
	_, err = Acquire(dir)
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), "process "+strconv.Itoa(cmd.Process.Pid)) {
		t.Fatalf("while the helper holds it: %v; want its pid %d", err, cmd.Process.Pid)
	}
	cmd.Process.Kill()
	cmd.Wait()
	if _, err := os.Stat(filepath.Join(dir, Name)); err != nil {
		t.Fatalf("lock file: %v", err)
	}
	l, err := Acquire(dir)
	if err != nil {
		t.Fatalf("after the holder's kill -9: %v", err)
	}
	l.Release()
}

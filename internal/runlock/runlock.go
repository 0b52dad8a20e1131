// Package runlock gives one process at a time a run directory. Two runs
// writing the same directory would interleave their metrics, race on the
// checkpoint and lose one model; the second must fail at once and say who
// holds the directory.
//
// The lock is flock(2) on DIR/.lock, held for the life of the process's
// open file: the kernel drops it when the process exits, however it exits
// (kill -9 included), so a stale lock file never blocks a later run. The
// file stays behind, holding the last holder's pid for the message.
package runlock

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Name is the lock file's name inside a run directory.
const Name = ".lock"

// ErrLocked marks a directory that another process holds.
var ErrLocked = errors.New("run directory is in use")

// Lock is a held run directory.
type Lock struct {
	f *os.File
}

// Acquire takes dir for this process without waiting. If another process
// holds it, the error wraps ErrLocked and names the directory and the
// holder's pid.
func Acquire(dir string) (*Lock, error) {
	path := filepath.Join(dir, Name)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", dir, err)
	}
	if err := tryLock(f); err != nil {
		holder := readPID(f)
		f.Close()
		if errors.Is(err, errWouldBlock) {
			return nil, fmt.Errorf("%s: %w by process %s (lock file %s); wait for it to finish or use another directory",
				dir, ErrLocked, holder, path)
		}
		return nil, fmt.Errorf("lock %s: %w", dir, err)
	}
	// The pid is for the message of a run that finds the lock taken.
	if err := f.Truncate(0); err == nil {
		f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return &Lock{f: f}, nil
}

// Release gives the directory back. It is safe on a nil Lock and more
// than once.
func (l *Lock) Release() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := unlock(l.f)
	if cerr := l.f.Close(); err == nil {
		err = cerr
	}
	l.f = nil
	return err
}

// readPID is the holder's pid as written in the lock file, or "unknown".
func readPID(f *os.File) string {
	b := make([]byte, 32)
	n, _ := f.ReadAt(b, 0)
	if pid, err := strconv.Atoi(strings.TrimSpace(string(b[:n]))); err == nil && pid > 0 {
		return strconv.Itoa(pid)
	}
	return "unknown"
}

//go:build linux

package data

import (
	"runtime"
	"testing"

	"golang.org/x/sys/unix"
)

// threadCPU returns the CPU time of the calling thread, which a
// benchmark locks to its goroutine: on a machine shared with other work,
// wall time measures the share of the machine a benchmark got, CPU time
// what it cost.
func threadCPU(b *testing.B) int64 {
	b.Helper()
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts); err != nil {
		b.Fatal(err)
	}
	return ts.Nano()
}

// lockThread pins the benchmark goroutine to its thread for threadCPU.
func lockThread() func() {
	runtime.LockOSThread()
	return runtime.UnlockOSThread
}

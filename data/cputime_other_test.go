//go:build !linux

package data

import (
	"testing"
	"time"
)

// threadCPU falls back to wall time where thread CPU time is unavailable.
func threadCPU(b *testing.B) int64 { return time.Now().UnixNano() }

func lockThread() func() { return func() {} }

// Package profile records where a command spends its CPU time, for the
// commands that offer --cpuprofile.
package profile

import (
	"fmt"
	"os"
	"runtime/pprof"
)

// CPU profiles the process into the file at path until the returned stop
// is called. An empty path profiles nothing, and stop does nothing, so
// that a command can defer it either way.
func CPU(path string) (stop func(), err error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}

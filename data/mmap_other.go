//go:build !unix

package data

import (
	"fmt"
	"io"
	"os"
)

// mapFile reads the first size bytes of f where memory mapping is not
// available.
func mapFile(f *os.File, size int) ([]byte, error) {
	b := make([]byte, size)
	if _, err := io.ReadFull(io.NewSectionReader(f, 0, int64(size)), b); err != nil {
		return nil, fmt.Errorf("read %s: %w", f.Name(), err)
	}
	return b, nil
}

// unmapFile releases a buffer from mapFile.
func unmapFile([]byte) error { return nil }

// allocTokens returns n zeroed int32s and a release function.
func allocTokens(n int) ([]int32, func()) { return make([]int32, n), func() {} }

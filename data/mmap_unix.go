//go:build unix

package data

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// mapFile maps the first size bytes of f read-only. The mapping outlives f.
func mapFile(f *os.File, size int) ([]byte, error) {
	if size == 0 {
		return nil, nil
	}
	b, err := unix.Mmap(int(f.Fd()), 0, size, unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("mmap %s: %w", f.Name(), err)
	}
	return b, nil
}

// unmapFile releases a mapping made by mapFile.
func unmapFile(b []byte) error {
	if b == nil {
		return nil
	}
	return unix.Munmap(b)
}

// allocTokens returns n zeroed int32s outside the Go heap, and a function
// that gives the memory straight back to the system, so that the large
// provisional token stream of a build does not linger in the heap.
func allocTokens(n int) ([]int32, func()) {
	b, err := unix.Mmap(-1, 0, n*4, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANON|unix.MAP_PRIVATE)
	if err != nil {
		s := make([]int32, n)
		return s, func() {}
	}
	return bytesAsInt32(b), func() { unix.Munmap(b) }
}

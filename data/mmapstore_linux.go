package data

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// mapTokensRW extends f to at least off+4*n bytes and maps that range
// read-write and shared, so that tokens stored in it are the file's
// contents with no write call. The range is allocated on disk first: a
// full disk is then this error, not a fault on a later store into the
// mapping. off must be a multiple of the page size.
func mapTokensRW(f *os.File, off int64, n int) ([]int32, func(), error) {
	if err := unix.Fallocate(int(f.Fd()), 0, off, 4*int64(n)); err != nil {
		return nil, nil, fmt.Errorf("allocate %d bytes in %s: %w", 4*int64(n), f.Name(), err)
	}
	b, err := unix.Mmap(int(f.Fd()), off, 4*n, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return nil, nil, fmt.Errorf("mmap %s: %w", f.Name(), err)
	}
	return bytesAsInt32(b), func() { unix.Munmap(b) }, nil
}

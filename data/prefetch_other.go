//go:build !amd64

package data

import "unsafe"

// prefetchSlots loads the first word of each slot base[h&mask] of the
// hashes in hs, so that the cache misses of a review overlap (on amd64 it
// is a prefetch instruction instead). It returns the sum of the loaded
// words, which the caller must use so that the loads are kept.
func prefetchSlots(base unsafe.Pointer, hs []uint64, mask uint64) uint64 {
	var sum uint64
	for _, h := range hs {
		sum += *(*uint64)(unsafe.Add(base, (h&mask)<<prefetchShift))
	}
	return sum
}

// prefetchShift is log2 of the slot size prefetchSlots assumes.
const prefetchShift = 5

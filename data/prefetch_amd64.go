package data

import "unsafe"

// prefetchSlots asks the processor to bring the dictionary slots
// base[h&mask] (32 bytes each) of every hash in hs into the cache. A
// prefetch, unlike a load, retires at once, so the misses of a whole
// review are in flight together. It returns 0 (see prefetch_other.go).
//
//go:noescape
func prefetchSlots(base unsafe.Pointer, hs []uint64, mask uint64) uint64

// prefetchShift is log2 of the slot size prefetchSlots assumes.
const prefetchShift = 5

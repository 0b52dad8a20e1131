//go:build !purego

package data

import "golang.org/x/sys/cpu"

// hasClassify reports whether classifyAVX512 can run here.
var hasClassify = cpu.X86.HasAVX512F && cpu.X86.HasAVX512BW

//go:noescape
func classifyAVX512(src *byte, out *byte, nblk int, words *uint64, apos *uint64) uint64

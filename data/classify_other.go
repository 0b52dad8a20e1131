//go:build !amd64 || purego

package data

const hasClassify = false

func classifyAVX512(src *byte, out *byte, nblk int, words *uint64, apos *uint64) uint64 {
	panic("data: classifyAVX512 in a build without it")
}

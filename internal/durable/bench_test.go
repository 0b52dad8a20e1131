package durable

import (
	"crypto/sha256"
	"hash/crc32"
	"io"
	"path/filepath"
	"testing"
)

// BenchmarkChecksum compares the two candidate checksums over a 64 MiB
// body, the size of a checkpoint of a model with about 5.6M parameters
// (weights and two AdamW moments): the reason for CRC-32C is here.
func BenchmarkChecksum(b *testing.B) {
	body := make([]byte, 64<<20)
	for i := range body {
		body[i] = byte(i * 131)
	}
	b.Run("crc32c", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			crc32.Checksum(body, castagnoli)
		}
	})
	b.Run("sha256", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			sha256.Sum256(body)
		}
	})
}

// BenchmarkWriteRead writes and reads back a framed 64 MiB file: what a
// checkpoint save and a resume cost on this disk, fsyncs included.
func BenchmarkWriteRead(b *testing.B) {
	body := make([]byte, 64<<20)
	path := filepath.Join(b.TempDir(), "f.bin")
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if err := testFormat.Write(path, func(w io.Writer) error { _, err := w.Write(body); return err }); err != nil {
			b.Fatal(err)
		}
		if _, _, err := testFormat.Read(path); err != nil {
			b.Fatal(err)
		}
	}
}

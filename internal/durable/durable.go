// Package durable is the one framing of the files a run keeps (the model
// file and the checkpoint): a fixed header that says what the file is, which
// format version wrote it, how long it is and what its checksum is, written
// atomically through internal/atomicfile, and a reader that verifies all of
// it before a byte of the body is trusted.
//
// The header is 32 bytes, little-endian:
//
//	offset  size  field
//	     0     8  magic, one per kind of file
//	     8     4  format version (uint32)
//	    12     4  reserved, 0
//	    16     8  body length in bytes (uint64)
//	    24     4  CRC-32C (Castagnoli) of the body
//	    28     4  CRC-32C of header bytes 0..27
//
// followed by the body. Every version of every format keeps the magic and
// the version at offsets 0 and 8, so that any build can tell a file from a
// newer build from a damaged one.
//
// The checksum is CRC-32C rather than SHA-256 because it guards against
// accidents (a torn write, a flipped bit, a truncated copy), not against
// someone who can rewrite the file and its checksum alike, which no
// unkeyed digest stops. CRC-32C detects every burst of up to 32 bits and
// every error of up to 3 bits at these lengths, and the CPU computes it
// (SSE4.2, ARMv8) at several GB/s, so checksumming a checkpoint of a few
// hundred MB every few minutes costs next to nothing.
package durable

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"os"
	"strings"

	"trainer/internal/atomicfile"
)

// HeaderSize is the length of the header before the body.
const HeaderSize = 32

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Format describes one kind of durable file.
type Format struct {
	// Name is what the file is, for errors: "trainer model file" gives
	// "not a trainer model file".
	Name string
	// Magic opens every file of this kind; exactly 8 bytes.
	Magic string
	// Version is the format version this build writes and the newest it
	// reads.
	Version uint32
	// Older, if set, reads files of versions below Version whose framing
	// differs (files written before this framing existed): given the
	// version and the whole file, it verifies the file its own way and
	// returns the body in the current body layout. Without it such files
	// are rejected with an error naming their version.
	Older func(version uint32, raw []byte) (body []byte, err error)
}

// Write replaces path atomically with a framed file holding what body
// writes. The body is streamed: its length and checksum are filled in the
// header once it is done.
func (f Format) Write(path string, body func(io.Writer) error) error {
	if len(f.Magic) != 8 {
		return fmt.Errorf("write %s: %s magic %q is not 8 bytes", path, f.Name, f.Magic)
	}
	return atomicfile.WriteFile(path, func(file *os.File) error {
		var head [HeaderSize]byte
		if _, err := file.Write(head[:]); err != nil {
			return err
		}
		bw := bufio.NewWriterSize(file, 1<<20)
		cw := &checksumWriter{w: bw}
		if err := body(cw); err != nil {
			return err
		}
		if err := bw.Flush(); err != nil {
			return err
		}
		f.putHeader(head[:], cw.n, cw.crc)
		_, err := file.WriteAt(head[:], 0)
		return err
	})
}

// Append appends the framed file holding body to dst and returns it: the
// bytes Write would put on disk.
func (f Format) Append(dst, body []byte) []byte {
	var head [HeaderSize]byte
	f.putHeader(head[:], uint64(len(body)), crc32.Checksum(body, castagnoli))
	return append(append(dst, head[:]...), body...)
}

func (f Format) putHeader(head []byte, n uint64, sum uint32) {
	copy(head[:8], f.Magic)
	binary.LittleEndian.PutUint32(head[8:], f.Version)
	binary.LittleEndian.PutUint32(head[12:], 0)
	binary.LittleEndian.PutUint64(head[16:], n)
	binary.LittleEndian.PutUint32(head[24:], sum)
	binary.LittleEndian.PutUint32(head[28:], crc32.Checksum(head[:28], castagnoli))
}

// Read reads and verifies the file at path and returns its format version
// and body. Errors start with path and say what is wrong in words: not a
// file of this kind, written by a newer version, truncated (with both
// lengths), damaged.
func (f Format) Read(path string) (version uint32, body []byte, err error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return 0, nil, err // the error names path already
	}
	version, body, err = f.Decode(raw)
	if err != nil {
		return 0, nil, fmt.Errorf("%s: %w", path, err)
	}
	return version, body, nil
}

// ErrForeign is returned (wrapped) for a file that is not of the Format's
// kind at all.
var ErrForeign = errors.New("not a file of this kind")

// Decode verifies a whole file held in raw, as Read does, and returns its
// format version and body (a slice of raw).
func (f Format) Decode(raw []byte) (version uint32, body []byte, err error) {
	if len(raw) < 8 || string(raw[:8]) != f.Magic {
		// A few bytes that begin like the magic are a cut file, not a
		// foreign one.
		if len(raw) > 0 && strings.HasPrefix(f.Magic, string(raw)) {
			return 0, nil, fmt.Errorf("truncated: %d bytes, shorter than the %d-byte header", len(raw), HeaderSize)
		}
		return 0, nil, fmt.Errorf("not a %s: %w", f.Name, ErrForeign)
	}
	if len(raw) < 12 {
		return 0, nil, fmt.Errorf("truncated: %d bytes, shorter than the %d-byte header", len(raw), HeaderSize)
	}
	version = binary.LittleEndian.Uint32(raw[8:])
	switch {
	case version > f.Version:
		return 0, nil, fmt.Errorf("written by a newer version %d of the %s format; this build reads versions up to %d", version, f.Name, f.Version)
	case version < f.Version && f.Older != nil:
		body, err := f.Older(version, raw)
		if err != nil {
			return 0, nil, fmt.Errorf("%s format version %d: %w", f.Name, version, err)
		}
		return version, body, nil
	case version < f.Version:
		return 0, nil, fmt.Errorf("%s format version %d is no longer read; this build reads version %d", f.Name, version, f.Version)
	}
	if len(raw) < HeaderSize {
		return 0, nil, fmt.Errorf("truncated: %d bytes, shorter than the %d-byte header", len(raw), HeaderSize)
	}
	if crc32.Checksum(raw[:28], castagnoli) != binary.LittleEndian.Uint32(raw[28:]) {
		return 0, nil, errors.New("damaged header (checksum mismatch)")
	}
	n := binary.LittleEndian.Uint64(raw[16:])
	have := uint64(len(raw) - HeaderSize)
	switch {
	case have < n:
		return 0, nil, fmt.Errorf("truncated: header says %d bytes, file has %d", n+HeaderSize, len(raw))
	case have > n:
		return 0, nil, fmt.Errorf("%d unexpected bytes at the end: header says %d bytes, file has %d", have-n, n+HeaderSize, len(raw))
	}
	body = raw[HeaderSize:]
	if crc32.Checksum(body, castagnoli) != binary.LittleEndian.Uint32(raw[24:]) {
		return 0, nil, errors.New("damaged: checksum mismatch")
	}
	return version, body, nil
}

// checksumWriter counts and checksums what goes through it.
type checksumWriter struct {
	w   io.Writer
	n   uint64
	crc uint32
}

func (c *checksumWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.crc = crc32.Update(c.crc, castagnoli, p[:n])
	c.n += uint64(n)
	return n, err
}

// WriteFloat32s writes a as little-endian float32 in 64 KiB pieces: the
// weights of model and checkpoint bodies, without a copy of the whole
// array.
func WriteFloat32s(w io.Writer, a []float32) error {
	buf := make([]byte, 0, 1<<16)
	for _, v := range a {
		buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(v))
		if len(buf) == cap(buf) {
			if _, err := w.Write(buf); err != nil {
				return err
			}
			buf = buf[:0]
		}
	}
	_, err := w.Write(buf)
	return err
}

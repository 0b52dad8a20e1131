package data

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"time"
	"unsafe"
)

// The encoded cache is one file per (input, settings):
//
//	header   cacheHeaderSize bytes: magic, version, counts, section offsets,
//	         key, vocabulary checksum, body checksum, header checksum
//	tokens   int32 little-endian, Tokens of the Dataset
//	         zero padding to 8 bytes
//	offsets  int64 little-endian, len = reviews+1
//	labels   one byte per review
//	report   the build's Report as JSON
//
// The body (everything after the header) is covered by a CRC-32C, checked on
// every load: the sections are then used in place from a read-only memory
// mapping, so a second run starts without decoding anything.
const (
	cacheMagic      = "TRNCACHE"
	cacheVersion    = 1
	cacheHeaderSize = 4096
)

// ErrCacheCorrupt marks a cache file that exists but cannot be used: wrong
// magic or version, inconsistent sizes, a checksum mismatch, or a key or
// vocabulary that does not belong to it. Prepare rebuilds such a cache.
var ErrCacheCorrupt = errors.New("cache file is corrupt or stale")

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// cacheHeader is the fixed part of the header, encoded little-endian.
type cacheHeader struct {
	Magic     [8]byte
	Version   uint32
	VocabCRC  uint32 // CRC-32C of the vocabulary file saved beside a train cache; 0 for others
	Reviews   int64
	Tokens    int64
	OffsetsAt int64
	LabelsAt  int64
	ReportAt  int64
	ReportLen int64
	FileSize  int64
	BodyCRC   uint32
	KeyLen    uint32
	Key       [64]byte // hex cache key
	HeaderCRC uint32   // over the fields above
}

func (h *cacheHeader) encode() []byte {
	var b bytes.Buffer
	binary.Write(&b, binary.LittleEndian, h)
	out := b.Bytes()
	crc := crc32.Checksum(out[:len(out)-4], castagnoli)
	binary.LittleEndian.PutUint32(out[len(out)-4:], crc)
	return out
}

// littleEndian reports whether int32 memory is little-endian, as the file
// format is; elsewhere the cache cannot be used in place.
func littleEndian() bool {
	x := uint16(1)
	return *(*byte)(unsafe.Pointer(&x)) == 1
}

func bytesAsInt32(b []byte) []int32 {
	if len(b) == 0 {
		return nil
	}
	return unsafe.Slice((*int32)(unsafe.Pointer(&b[0])), len(b)/4)
}

func bytesAsInt64(b []byte) []int64 {
	if len(b) == 0 {
		return nil
	}
	return unsafe.Slice((*int64)(unsafe.Pointer(&b[0])), len(b)/8)
}

func int32Bytes(s []int32) []byte {
	if len(s) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(&s[0])), len(s)*4)
}

func int64Bytes(s []int64) []byte {
	if len(s) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(&s[0])), len(s)*8)
}

// cacheFile is an open, memory-mapped cache.
type cacheFile struct {
	path   string
	data   []byte
	ds     Dataset
	report Report
	hdr    cacheHeader
}

// openCache maps the cache at path and checks it against key and, for a
// train cache, the checksum of its vocabulary file (vocabCRC != 0); with
// verify it also checks the body checksum, reading the whole file. Any
// mismatch wraps ErrCacheCorrupt; a missing file wraps fs.ErrNotExist.
func openCache(path, key string, vocabCRC uint32, verify bool) (*cacheFile, error) {
	if !littleEndian() {
		return nil, fmt.Errorf("cache %s: %w: this machine is big-endian", path, ErrCacheCorrupt)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	bad := func(format string, args ...any) error {
		return fmt.Errorf("cache %s: %w: %s", path, ErrCacheCorrupt, fmt.Sprintf(format, args...))
	}
	if st.Size() < cacheHeaderSize {
		return nil, bad("%d bytes, shorter than the header", st.Size())
	}
	data, err := mapFile(f, int(st.Size()))
	if err != nil {
		return nil, err
	}
	c := &cacheFile{path: path, data: data}
	if err := c.parse(key, vocabCRC, st.Size(), verify); err != nil {
		unmapFile(data)
		return nil, bad("%v", err)
	}
	return c, nil
}

func (c *cacheFile) parse(key string, vocabCRC uint32, size int64, verify bool) error {
	h := &c.hdr
	hb := c.data[:binary.Size(h)]
	if err := binary.Read(bytes.NewReader(hb), binary.LittleEndian, h); err != nil {
		return err
	}
	switch {
	case string(h.Magic[:]) != cacheMagic:
		return fmt.Errorf("bad magic %q", h.Magic[:])
	case h.Version != cacheVersion:
		return fmt.Errorf("format version %d, this program writes %d", h.Version, cacheVersion)
	case crc32.Checksum(hb[:len(hb)-4], castagnoli) != h.HeaderCRC:
		return errors.New("header checksum mismatch")
	case h.FileSize != size:
		return fmt.Errorf("file is %d bytes, header says %d (truncated?)", size, h.FileSize)
	case h.KeyLen > uint32(len(h.Key)) || string(h.Key[:h.KeyLen]) != key:
		return errors.New("key does not match the input and settings")
	case vocabCRC != 0 && h.VocabCRC != vocabCRC:
		return errors.New("vocabulary file beside it does not match")
	}
	tokEnd := cacheHeaderSize + 4*h.Tokens
	if h.Reviews < 0 || h.Tokens < 0 || h.OffsetsAt != (tokEnd+7)&^7 ||
		h.LabelsAt != h.OffsetsAt+8*(h.Reviews+1) || h.ReportAt != h.LabelsAt+h.Reviews ||
		h.ReportLen < 0 || h.ReportAt+h.ReportLen != size {
		return errors.New("section sizes are inconsistent")
	}
	if verify {
		if got := crc32.Checksum(c.data[cacheHeaderSize:], castagnoli); got != h.BodyCRC {
			return fmt.Errorf("body checksum %08x, want %08x", got, h.BodyCRC)
		}
	}
	c.ds = Dataset{
		Tokens:  bytesAsInt32(c.data[cacheHeaderSize:tokEnd]),
		Offsets: bytesAsInt64(c.data[h.OffsetsAt:h.LabelsAt]),
		Labels:  c.data[h.LabelsAt:h.ReportAt:h.ReportAt],
	}
	if c.ds.Offsets[0] != 0 || c.ds.Offsets[h.Reviews] != h.Tokens {
		return errors.New("offsets do not span the tokens")
	}
	for i := int64(0); i < h.Reviews; i++ {
		if c.ds.Offsets[i+1] <= c.ds.Offsets[i] || c.ds.Labels[i] > Positive {
			return fmt.Errorf("review %d: bad offsets or label", i)
		}
	}
	if err := json.Unmarshal(c.data[h.ReportAt:], &c.report); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	return nil
}

// Close unmaps the file; the Dataset must not be used afterwards.
func (c *cacheFile) Close() error {
	if c == nil || c.data == nil {
		return nil
	}
	err := unmapFile(c.data)
	c.data = nil
	return err
}

// cacheWriter writes a cache file: body sections in order through a
// checksum, then the header, then fsync and an atomic rename.
type cacheWriter struct {
	path    string
	f       *os.File
	bw      *bufio.Writer
	crc     hash.Hash32
	w       io.Writer
	written int64 // body bytes so far
}

func newCacheWriter(path string) (*cacheWriter, error) {
	f, err := createTempShared(path)
	if err != nil {
		return nil, fmt.Errorf("create cache: %w", err)
	}
	if _, err := f.Seek(cacheHeaderSize, io.SeekStart); err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, fmt.Errorf("create cache: %w", err)
	}
	w := &cacheWriter{path: path, f: f, bw: bufio.NewWriterSize(f, 4<<20), crc: crc32.New(castagnoli)}
	w.w = io.MultiWriter(w.crc, w.bw)
	return w, nil
}

// createTempShared creates a new temporary file beside path with mode 0644
// less the umask, like every other output: os.CreateTemp's 0600 would make
// a cache shared by a team unreadable to all but its builder.
func createTempShared(path string) (*os.File, error) {
	var err error
	for try := 0; try < 100; try++ {
		name := fmt.Sprintf("%s.tmp%d-%d", path, os.Getpid(), time.Now().UnixNano()+int64(try))
		var f *os.File
		f, err = os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
		if err == nil || !errors.Is(err, fs.ErrExist) {
			return f, err
		}
	}
	return nil, err
}

func (w *cacheWriter) write(b []byte) error {
	n, err := w.w.Write(b)
	w.written += int64(n)
	return err
}

// adoptTokens takes the tokens a file-backed store (see tokenStore) has
// put in the file, from cacheHeaderSize on, as written: it checksums
// them, releases the store's mappings, cuts the file after the last token
// and places the next write there.
func (w *cacheWriter) adoptTokens(s *tokenStore) error {
	if s.file != w.f || s.base != cacheHeaderSize {
		return errors.New("token store is not this cache file")
	}
	n := s.n
	s.spans(0, n, func(t []int32) error {
		w.crc.Write(int32Bytes(t))
		return nil
	})
	s.release()
	end := cacheHeaderSize + 4*n
	if err := w.f.Truncate(end); err != nil {
		return err
	}
	if _, err := w.f.Seek(end, io.SeekStart); err != nil {
		return err
	}
	w.written = 4 * n
	return nil
}

// finish writes the sections after the tokens (which the caller has
// written with write), the header, syncs and renames into place.
func (w *cacheWriter) finish(key string, vocabCRC uint32, tokens int64, offsets []int64, labels []uint8, report *Report) error {
	rep, err := json.Marshal(report)
	if err != nil {
		return w.fail(err)
	}
	if w.written != 4*tokens {
		return w.fail(fmt.Errorf("wrote %d token bytes, want %d", w.written, 4*tokens))
	}
	var pad [8]byte
	err = w.write(pad[:(8-w.written%8)%8])
	offsetsAt := cacheHeaderSize + w.written
	for _, b := range [][]byte{int64Bytes(offsets), labels, rep} {
		if err == nil {
			err = w.write(b)
		}
	}
	if err == nil {
		err = w.bw.Flush()
	}
	if err != nil {
		return w.fail(err)
	}
	h := cacheHeader{
		Version:   cacheVersion,
		VocabCRC:  vocabCRC,
		Reviews:   int64(len(labels)),
		Tokens:    tokens,
		OffsetsAt: offsetsAt,
		LabelsAt:  offsetsAt + int64(8*len(offsets)),
		FileSize:  cacheHeaderSize + w.written,
		BodyCRC:   w.crc.Sum32(),
		KeyLen:    uint32(copy(make([]byte, 64), key)),
	}
	copy(h.Magic[:], cacheMagic)
	copy(h.Key[:], key)
	h.ReportAt = h.LabelsAt + h.Reviews
	h.ReportLen = int64(len(rep))
	if _, err := w.f.WriteAt(h.encode(), 0); err != nil {
		return w.fail(err)
	}
	if err := w.f.Sync(); err != nil {
		return w.fail(err)
	}
	tmp := w.f.Name()
	if err := w.f.Close(); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write cache %s: %w", w.path, err)
	}
	if err := os.Rename(tmp, w.path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write cache %s: %w", w.path, err)
	}
	return nil
}

// fail abandons the file.
func (w *cacheWriter) fail(err error) error {
	w.f.Close()
	os.Remove(w.f.Name())
	return fmt.Errorf("write cache %s: %w", w.path, err)
}

// abort abandons the file after a failure elsewhere.
func (w *cacheWriter) abort() {
	w.f.Close()
	os.Remove(w.f.Name())
}

// fileCRC is the CRC-32C of a whole file, used to tie a vocabulary file to
// its cache.
func fileCRC(path string) (uint32, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	return crc32.Checksum(b, castagnoli) | 1, nil // never 0, which means "no vocabulary"
}

// hashKey turns the parts of a cache key into a short hex name.
func hashKey(parts ...any) string {
	h := sha256.New()
	enc := json.NewEncoder(h)
	for _, p := range parts {
		enc.Encode(p)
	}
	return hex.EncodeToString(h.Sum(nil))[:32]
}

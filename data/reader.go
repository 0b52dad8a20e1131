package data

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sync/atomic"
	"unsafe"

	"github.com/zeebo/xxh3"
)

// Review is one labelled review as read from a file.
type Review struct {
	Label uint8  // Negative or Positive
	Text  string // raw text: fastText text after the label, or CSV title + " " + body
	Line  int64  // 1-based line where the record starts
}

// Chunk is a group of consecutive reviews. The Text strings of one chunk
// share a single allocation, so reading millions of reviews costs a few
// thousand allocations and the garbage collector sees few objects. A chunk
// is never reused by the Reader: it may be kept and handed to other
// goroutines.
type Chunk struct {
	Reviews []Review
	// TextBytes is the total length of the Text strings.
	TextBytes int
}

// ReaderOptions configures Open. The zero value reads Amazon polarity data
// strictly.
type ReaderOptions struct {
	// LabelMap maps raw labels to classes; the zero value is the Amazon
	// polarity convention ("1" negative, "2" positive, others an error).
	LabelMap LabelMap
	// SkipBad skips bad records and counts them by reason in ReadStats
	// instead of failing. A truncated or corrupt compressed stream, an empty
	// file, a directory and a missing file are errors regardless.
	SkipBad bool
	// MaxRecordBytes bounds one line (fastText) or record (CSV), without its
	// line ending; longer ones are errors ("too_long"). 0 means 1 MiB.
	MaxRecordBytes int
	// ChunkBytes is the target amount of text per Chunk. 0 means 1 MiB.
	ChunkBytes int
	// Format forces FormatFastText or FormatCSV; "" detects it from the
	// content.
	Format string

	// bufBytes overrides the read buffer size (never below the record
	// limit plus 3 bytes, the parsers' window) so tests can exercise refills on small
	// inputs.
	bufBytes int
}

// Defaults for ReaderOptions.
const (
	DefaultMaxRecordBytes = 1 << 20
	DefaultChunkBytes     = 1 << 20
)

// ReadStats counts what a Reader has seen so far. Every non-blank record is
// in Records exactly once: kept, skipped (by reason) or dropped by the
// label map. Blank lines and a CSV header row are counted apart.
type ReadStats struct {
	Records           int64            `json:"records"`
	Kept              int64            `json:"kept"`
	Skipped           map[string]int64 `json:"skipped,omitempty"`
	DroppedByLabelMap int64            `json:"dropped_by_label_map"`
	Blank             int64            `json:"blank_lines"`
	Header            int64            `json:"header_rows,omitempty"`
}

// SkippedTotal is the number of records skipped for any reason.
func (s ReadStats) SkippedTotal() int64 {
	var n int64
	for _, v := range s.Skipped {
		n += v
	}
	return n
}

// Reasons a record is bad, used in RecordError.Reason and as the keys of
// ReadStats.Skipped.
const (
	ReasonMissingLabel = "missing_label" // no label where one must be
	ReasonBadLabel     = "bad_label"     // malformed label or one not in the label map
	ReasonMissingText  = "missing_text"  // a label but no text
	ReasonInvalidUTF8  = "invalid_utf8"
	ReasonTooLong      = "too_long"   // longer than MaxRecordBytes
	ReasonCSVFields    = "csv_fields" // wrong number of CSV fields
	ReasonCSVQuote     = "csv_quote"  // unterminated or malformed CSV quoting
)

// Errors about whole inputs. They are wrapped with the file name; test with
// errors.Is. A missing file wraps fs.ErrNotExist.
var (
	ErrIsDir       = errors.New("is a directory, not a file")
	ErrEmpty       = errors.New("no reviews: the input is empty")
	ErrTruncated   = errors.New("compressed stream is truncated")
	ErrCorrupt     = errors.New("compressed stream is corrupt")
	ErrUnsupported = errors.New("unsupported input")
)

// RecordError is a bad record: the file, the 1-based line where the record
// starts, a reason (one of the Reason constants) and a message for people.
type RecordError struct {
	File   string
	Line   int64
	Reason string
	Msg    string
}

// Error formats as one line: "read FILE line N: problem".
func (e *RecordError) Error() string {
	return fmt.Sprintf("read %s line %d: %s", e.File, e.Line, e.Msg)
}

// IsDataError reports whether err is a problem with the input data (a bad
// record, a missing, empty, truncated or unsupported input) rather than a
// failure of the program or the machine.
func IsDataError(err error) bool {
	var re *RecordError
	return errors.As(err, &re) || errors.Is(err, fs.ErrNotExist) || errors.Is(err, ErrIsDir) ||
		errors.Is(err, ErrEmpty) || errors.Is(err, ErrTruncated) || errors.Is(err, ErrCorrupt) ||
		errors.Is(err, ErrUnsupported)
}

// Reader streams labelled reviews from one input. It is not safe for
// concurrent use, except Progress, which a progress display may call from
// another goroutine.
type Reader struct {
	name        string
	opts        ReaderOptions
	closer      io.Closer
	raw         *countingReader
	src         io.Reader // decompressed bytes
	total       int64
	format      string
	compression string

	buf    []byte // buffered input buf[r:w]
	r, w   int
	eof    bool  // src is exhausted
	crOnly bool  // lines end in a lone CR (classic Mac): fill turns each CR into LF
	srcErr error // src failed; reported once the buffer is drained
	line   int64 // lines fully consumed

	parse     func(data []byte, atEOF bool, rec *record)
	scratch   []byte // CSV fields, unescaped
	fieldEnds []int
	csvFields int // fields per record, fixed by the first well-formed record

	stats   ReadStats
	pending error // error to return once the current chunk is delivered
	err     error // sticky terminal error (io.EOF included)
	avgSize int   // text bytes per review, for sizing Reviews slices
}

// countingReader counts bytes read from the underlying file for Progress,
// and hashes them for Digest as they pass, so that the digest costs no
// second read of the input.
type countingReader struct {
	r io.Reader
	n atomic.Int64
	h *xxh3.Hasher128
}

// Read counts and hashes as it reads.
func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	c.h.Write(p[:n])
	return n, err
}

// Open opens a review file, or standard input when path is "-", detecting
// compression and format from the content.
func Open(path string, opts ReaderOptions) (*Reader, error) {
	if path == "-" {
		return openReader("stdin", os.Stdin, -1, nil, opts)
	}
	fi, err := os.Stat(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("read %s: %w", path, fs.ErrNotExist)
		}
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if fi.IsDir() {
		return nil, fmt.Errorf("read %s: %w", path, ErrIsDir)
	}
	size := int64(-1)
	if fi.Mode().IsRegular() {
		size = fi.Size()
		if size == 0 {
			return nil, fmt.Errorf("read %s: %w (0 bytes)", path, ErrEmpty)
		}
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	rd, err := openReader(path, f, size, f, opts)
	if err != nil {
		f.Close()
		return nil, err
	}
	return rd, nil
}

// openReader builds a Reader over any byte stream; name is used in errors
// and size is the stream's length in bytes, or -1 when unknown.
func openReader(name string, in io.Reader, inSize int64, closer io.Closer, opts ReaderOptions) (*Reader, error) {
	if opts.MaxRecordBytes <= 0 {
		opts.MaxRecordBytes = DefaultMaxRecordBytes
	}
	if opts.ChunkBytes <= 0 {
		opts.ChunkBytes = DefaultChunkBytes
	}
	r := &Reader{name: name, opts: opts, closer: closer, total: inSize, avgSize: 256}
	r.raw = &countingReader{r: in, h: xxh3.New128()}
	br := bufio.NewReaderSize(r.raw, 64<<10)
	src, comp, err := decompressor(br)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	r.src, r.compression = src, comp
	// The buffer holds a whole record plus room to read ahead, so a record
	// that does not fit is longer than the limit.
	size := max(opts.MaxRecordBytes+64<<10, 1<<20)
	if opts.bufBytes > 0 {
		size = max(opts.MaxRecordBytes+3, opts.bufBytes)
	}
	r.buf = make([]byte, size)
	r.fill()
	// A first buffer with carriage returns and no line feed at all is a
	// file whose lines end in CR alone: without this, all its reviews would
	// read as one line.
	if bytes.IndexByte(r.buf[:r.w], '\n') < 0 && bytes.IndexByte(r.buf[:r.w], '\r') >= 0 {
		r.crOnly = true
		crToLF(r.buf[:r.w])
	}
	if r.w == 0 {
		if r.srcErr != nil {
			return nil, r.streamError()
		}
		if comp != CompressionPlain {
			return nil, fmt.Errorf("read %s: %w (no data after %s decompression)", name, ErrEmpty, comp)
		}
		return nil, fmt.Errorf("read %s: %w (0 bytes)", name, ErrEmpty)
	}
	if hasBOM(r.buf[:r.w]) {
		r.r = len(utf8BOM)
	}
	r.format = opts.Format
	if r.format == "" {
		r.format = detectFormat(r.buf[r.r:r.w])
	}
	switch r.format {
	case FormatFastText:
		r.parse = r.parseFastText
	case FormatCSV:
		r.parse = r.parseCSV
	default:
		return nil, fmt.Errorf("read %s: %w: format %q (want %q or %q)", name, ErrUnsupported, r.format, FormatFastText, FormatCSV)
	}
	return r, nil
}

// Format is FormatFastText or FormatCSV.
func (r *Reader) Format() string { return r.format }

// Compression is CompressionPlain, CompressionGzip or CompressionBzip2.
func (r *Reader) Compression() string { return r.compression }

// Name is the input's name as used in error messages.
func (r *Reader) Name() string { return r.name }

// Digest is "xxh3-128:" and the hex xxh3-128 of the raw (still
// compressed) input bytes read so far: of the whole input once it has been
// read to the end. It is not safe to call while another goroutine reads.
func (r *Reader) Digest() string {
	sum := r.raw.h.Sum128().Bytes()
	return "xxh3-128:" + hex.EncodeToString(sum[:])
}

// Progress returns the bytes of the underlying (possibly compressed) input
// consumed so far and its total size, -1 when unknown (stdin, pipes). It is
// safe to call from another goroutine.
func (r *Reader) Progress() (done, total int64) { return r.raw.n.Load(), r.total }

// Stats returns a copy of the counts so far.
func (r *Reader) Stats() ReadStats {
	s := r.stats
	s.Skipped = make(map[string]int64, len(r.stats.Skipped))
	for k, v := range r.stats.Skipped {
		s.Skipped[k] = v
	}
	return s
}

// Close releases the input. It does not close standard input.
func (r *Reader) Close() error {
	r.buf, r.scratch = nil, nil
	if r.err == nil {
		r.err = errors.New("read " + r.name + ": reader is closed")
	}
	if r.closer != nil {
		c := r.closer
		r.closer = nil
		return c.Close()
	}
	return nil
}

// record kinds returned by the parsers.
const (
	recGood = iota
	recBlank
	recBad
	recNeedMore // the record is not complete in the buffer
	recEnd      // no more input
	recHeader   // a CSV header row
)

// record is one parse result. n and lines say how much input it spans.
type record struct {
	kind   int
	n      int   // bytes consumed
	lines  int64 // newlines consumed
	action LabelAction
	text   []byte // text, or its first part (CSV title)
	text2  []byte // second part (CSV body), joined to text with a space
	reason string
	msg    string
	// resume, for bad records, is where parsing continues: a byte count
	// from the record start and the newlines it covers; with skipToEOL,
	// parsing continues after the end of the physical line found there,
	// however long.
	resume      int
	resumeLines int64
	skipToEOL   bool
	inQuote     bool // recNeedMore inside a quoted CSV field
}

// NextChunk returns the next group of reviews, or io.EOF after the last.
// Without SkipBad the first bad record ends reading with a *RecordError
// (after the chunk of good reviews before it has been returned).
func (r *Reader) NextChunk() (*Chunk, error) {
	if r.err != nil {
		return nil, r.err
	}
	if r.pending != nil {
		r.err, r.pending = r.pending, nil
		return nil, r.err
	}
	var arena []byte
	reviews := make([]Review, 0, r.opts.ChunkBytes/max(r.avgSize, 16)+16)
	// The parsers see at most a record's worth of bytes (the limit plus a
	// CRLF and one byte), so every decision about a long record is made at
	// the same place whatever the buffer size.
	window := r.opts.MaxRecordBytes + 3
	var rec record
	for {
		rec = record{}
		data, atEOF := r.buf[r.r:r.w], r.eof
		if len(data) >= window {
			data, atEOF = data[:window], false
		}
		r.parse(data, atEOF, &rec)
		switch rec.kind {
		case recNeedMore:
			if len(data) == window {
				r.overlong(&rec)
				if err := r.bad(&rec); err != nil {
					return r.finish(reviews, arena, err)
				}
				continue
			}
			if r.srcErr != nil {
				return r.finish(reviews, arena, r.streamError())
			}
			r.fill()
			continue
		case recEnd:
			if r.srcErr != nil {
				return r.finish(reviews, arena, r.streamError())
			}
			if r.stats.Records == 0 {
				return r.finish(reviews, arena, fmt.Errorf("read %s: %w (%d blank lines, no records)", r.name, ErrEmpty, r.stats.Blank))
			}
			return r.finish(reviews, arena, io.EOF)
		case recBlank:
			r.stats.Blank++
			r.advance(rec.n, rec.lines)
		case recHeader:
			r.stats.Header++
			r.advance(rec.n, rec.lines)
		case recBad:
			if err := r.bad(&rec); err != nil {
				return r.finish(reviews, arena, err)
			}
		case recGood:
			if rec.action == LabelDrop {
				r.stats.Records++
				r.stats.DroppedByLabelMap++
				r.advance(rec.n, rec.lines)
				continue
			}
			size := len(rec.text) + len(rec.text2)
			if len(rec.text) > 0 && len(rec.text2) > 0 {
				size++
			}
			if len(arena)+size > cap(arena) {
				if len(reviews) > 0 {
					return r.finish(reviews, arena, nil)
				}
				arena = make([]byte, 0, max(size, r.opts.ChunkBytes))
			}
			start := len(arena)
			arena = append(arena, rec.text...)
			if len(rec.text2) > 0 {
				if len(rec.text) > 0 {
					arena = append(arena, ' ')
				}
				arena = append(arena, rec.text2...)
			}
			// The arena never grows past its capacity and is never written
			// again, so strings may point into it.
			text := ""
			if size > 0 {
				text = unsafe.String(&arena[start], size)
			}
			reviews = append(reviews, Review{Label: uint8(rec.action), Text: text, Line: r.line + 1})
			r.stats.Records++
			r.stats.Kept++
			r.advance(rec.n, rec.lines)
		}
	}
}

// finish delivers the reviews gathered so far and remembers err: a chunk
// with reviews goes out first and err comes on the next call.
func (r *Reader) finish(reviews []Review, arena []byte, err error) (*Chunk, error) {
	if len(reviews) == 0 {
		if err == nil {
			err = io.EOF
		}
		r.err = err
		return nil, err
	}
	r.pending = err
	r.avgSize = max(len(arena)/len(reviews), 1)
	return &Chunk{Reviews: reviews, TextBytes: len(arena)}, nil
}

// bad counts a bad record and moves past it with SkipBad, or returns its
// error.
func (r *Reader) bad(rec *record) error {
	if !r.opts.SkipBad {
		return &RecordError{File: r.name, Line: r.line + 1, Reason: rec.reason, Msg: rec.msg}
	}
	r.stats.Records++
	if r.stats.Skipped == nil {
		r.stats.Skipped = map[string]int64{}
	}
	r.stats.Skipped[rec.reason]++
	r.advance(rec.resume, rec.resumeLines)
	if rec.skipToEOL {
		r.skipLine()
	}
	return nil
}

// overlong turns a record that does not end within the record limit into
// a bad record that is skipped to the end of its first line.
func (r *Reader) overlong(rec *record) {
	limit := r.opts.MaxRecordBytes
	if rec.inQuote {
		rec.reason = ReasonCSVQuote
		rec.msg = fmt.Sprintf("quoted field is not closed within the %d-byte record limit (unterminated quote?)", limit)
	} else {
		rec.reason = ReasonTooLong
		rec.msg = tooLongMsg(limit)
	}
	rec.kind = recBad
	rec.resume, rec.resumeLines, rec.skipToEOL = 0, 0, true
}

func tooLongMsg(limit int) string {
	return fmt.Sprintf("record is longer than the %d-byte limit", limit)
}

func (r *Reader) advance(n int, lines int64) {
	r.r += n
	r.line += lines
}

// skipLine drops input up to and including the next newline, reading as
// much as it takes: it is how a line too long for the buffer is skipped.
func (r *Reader) skipLine() {
	for {
		if i := bytes.IndexByte(r.buf[r.r:r.w], '\n'); i >= 0 {
			r.r += i + 1
			r.line++
			return
		}
		r.r = r.w
		if r.eof || r.srcErr != nil {
			r.line++
			return
		}
		r.fill()
	}
}

// fill moves the unread bytes to the front of the buffer and reads until
// the buffer is full, the input ends or fails.
func (r *Reader) fill() {
	if r.r > 0 {
		r.w = copy(r.buf, r.buf[r.r:r.w])
		r.r = 0
	}
	for r.w < len(r.buf) && !r.eof && r.srcErr == nil {
		n, err := r.src.Read(r.buf[r.w:])
		if r.crOnly {
			crToLF(r.buf[r.w : r.w+n])
		}
		r.w += n
		switch {
		case err == io.EOF:
			r.eof = true
		case err != nil:
			r.srcErr = err
		}
	}
}

// crToLF turns every CR of b into LF, in place.
func crToLF(b []byte) {
	for i := bytes.IndexByte(b, '\r'); i >= 0; i = bytes.IndexByte(b, '\r') {
		b[i] = '\n'
		b = b[i+1:]
	}
}

package data

import (
	"bufio"
	"bytes"
	"compress/bzip2"
	"compress/flate"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
)

// Input formats, as reported by Reader.Format.
const (
	FormatFastText = "fasttext" // "__label__N text" per line
	FormatCSV      = "csv"      // Zhang et al.: "label","title","body" (or label,text)
)

// Compressions, as reported by Reader.Compression.
const (
	CompressionPlain = "plain"
	CompressionGzip  = "gzip"
	CompressionBzip2 = "bzip2"
)

var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

func hasBOM(b []byte) bool { return bytes.HasPrefix(b, utf8BOM) }

// decompressor looks at the magic bytes at the start of the stream, not at
// the file name, and wraps the stream in the matching decompressor.
func decompressor(br *bufio.Reader) (io.Reader, string, error) {
	magic, _ := br.Peek(6)
	switch {
	case len(magic) >= 2 && magic[0] == 0x1f && magic[1] == 0x8b:
		zr, err := gzip.NewReader(br)
		if err != nil {
			if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
				return nil, "", fmt.Errorf("%w: gzip header is cut short", ErrTruncated)
			}
			return nil, "", fmt.Errorf("%w: gzip header: %v", ErrCorrupt, err)
		}
		return zr, CompressionGzip, nil
	case len(magic) >= 4 && magic[0] == 'B' && magic[1] == 'Z' && magic[2] == 'h' && magic[3] >= '1' && magic[3] <= '9':
		return bzip2.NewReader(br), CompressionBzip2, nil
	case len(magic) >= 6 && bytes.Equal(magic, []byte{0xFD, '7', 'z', 'X', 'Z', 0}):
		return nil, "", fmt.Errorf("%w: xz compression (decompress it first, or use gzip or bzip2)", ErrUnsupported)
	case len(magic) >= 4 && bytes.Equal(magic[:4], []byte{0x28, 0xB5, 0x2F, 0xFD}):
		return nil, "", fmt.Errorf("%w: zstd compression (decompress it first, or use gzip or bzip2)", ErrUnsupported)
	case len(magic) >= 4 && bytes.Equal(magic[:4], []byte{'P', 'K', 3, 4}):
		return nil, "", fmt.Errorf("%w: zip archive (extract the file first)", ErrUnsupported)
	}
	return br, CompressionPlain, nil
}

// streamError describes a failure of the (decompressed) input stream, with
// the last complete line for orientation.
func (r *Reader) streamError() error {
	err := r.srcErr
	what := r.compression + " stream"
	if r.compression == CompressionPlain {
		what = "input"
	}
	var corrupt flate.CorruptInputError
	var bz bzip2.StructuralError
	where := fmt.Sprintf("after line %d", r.line)
	if r.line == 0 {
		where = "before the first complete line"
	}
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("read %s: %w: the %s ends early, %s", r.name, ErrTruncated, what, where)
	case errors.Is(err, gzip.ErrChecksum), errors.Is(err, gzip.ErrHeader), errors.As(err, &corrupt), errors.As(err, &bz):
		return fmt.Errorf("read %s: %w: %s %s: %v", r.name, ErrCorrupt, what, where, err)
	}
	return fmt.Errorf("read %s %s: %w", r.name, where, err)
}

// detectFormat decides between fastText and CSV from the first lines of the
// content: the first line that starts with "__label__" or looks like a CSV
// record (a quote, or a short label followed by a comma) decides. When no
// line does, it says fastText, whose reader then names the first bad line.
func detectFormat(b []byte) string {
	for len(b) > 0 {
		line := b
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line, b = b[:i], b[i+1:]
		} else {
			b = nil
		}
		line = bytes.TrimLeft(line, " \t\r")
		switch {
		case len(line) == 0:
			continue
		case bytes.HasPrefix(line, []byte("__label__")):
			return FormatFastText
		case line[0] == '"':
			return FormatCSV
		}
		if i := bytes.IndexByte(line, ','); i > 0 && i <= 32 && isLabelToken(line[:i]) {
			return FormatCSV
		}
		return FormatFastText
	}
	return FormatFastText
}

// isLabelToken reports whether b could be a bare CSV label: letters,
// digits, '-', '_' and '.', no spaces.
func isLabelToken(b []byte) bool {
	for _, c := range b {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// Decompress wraps r in the decompressor its first bytes call for (gzip or
// bzip2), exactly as Open does for review files, and names the compression.
// Plain text comes back readable as it is; xz, zstd and zip are refused as
// Open refuses them. Commands that read unlabelled text (predict) and
// readers of other formats (the report's CSV and JSON lines) use it so
// that a compressed file is never taken for text.
func Decompress(r io.Reader) (io.Reader, string, error) {
	return decompressor(bufio.NewReaderSize(r, 64<<10))
}

// NormalizeCR returns r, with every CR turned into LF when r's lines end
// in CR alone: when its first 64 KiB hold carriage returns and no line
// feed, the rule Open applies to review files. Other input passes as is.
func NormalizeCR(r io.Reader) io.Reader {
	br := bufio.NewReaderSize(r, 64<<10)
	head, _ := br.Peek(64 << 10)
	if bytes.IndexByte(head, '\n') >= 0 || bytes.IndexByte(head, '\r') < 0 {
		return br
	}
	return crReader{br}
}

// crReader turns CR into LF as it reads.
type crReader struct{ r io.Reader }

func (c crReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	crToLF(p[:n])
	return n, err
}

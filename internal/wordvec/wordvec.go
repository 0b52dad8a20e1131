// Package wordvec reads pretrained word vectors in the text format that
// word2vec, GloVe and fastText (.vec) share: one word and its values per
// line, separated by spaces, with an optional first line "count dimension"
// (word2vec and fastText write it, GloVe does not). Plain text, gzip and
// bzip2 are read alike.
//
// A published vector file holds millions of words and a training
// vocabulary tens of thousands, so the reader streams the file and keeps
// only the vectors of the words it is asked for: its memory follows the
// vocabulary, not the file. Every line is still checked, so a malformed
// file is refused whichever words it holds.
package wordvec

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"

	"trainer/data"
)

// maxLine bounds one line: 300 values take about 3 KB, so a line this long
// is a file of another kind, not a vector. maxDim bounds the dimension
// the same way, before a header's number sizes the table.
const (
	maxLine = 16 << 20
	maxDim  = 1 << 16
)

// Options say how file words are matched to the vocabulary.
type Options struct {
	// Fold lets a vocabulary word take the vector of a case variant
	// ("Paris" for "paris") when the file has no line spelled exactly like
	// it, for vocabularies built from lowercased text. An exact spelling
	// wins wherever it comes in the file.
	Fold bool
	// Dim, when above 0, is the only dimension accepted: a file of another
	// one is refused at its first line with a *DimError instead of after
	// reading gigabytes.
	Dim int
}

// Stats count what became of every line of the file. Lines equals
// Exact + Folded + Duplicates + Variants + Unmatched.
type Stats struct {
	Lines      int64 // vector lines (the header and blank lines not counted)
	Exact      int   // vocabulary words given the vector of their own spelling
	Folded     int   // vocabulary words given a case variant's vector (Options.Fold)
	Duplicates int64 // lines repeating a vocabulary word an earlier line gave: the first is kept
	Variants   int64 // case-variant lines not used: the word had its own spelling or an earlier variant
	Unmatched  int64 // lines of words outside the vocabulary
	Blank      int64 // blank lines, skipped
}

// Matched is the number of vocabulary words given a vector.
func (s Stats) Matched() int { return s.Exact + s.Folded }

// Table holds the vectors of a vocabulary read from one file.
type Table struct {
	Dim    int
	Header bool      // the file began with a "count dimension" line
	Vecs   []float32 // len(words)*Dim: row i is words[i]'s vector, zero where not found
	Found  []bool    // per word: a vector was read for it
	Stats
}

// Row is word i's vector (zeros when it was not found).
func (t *Table) Row(i int) []float32 { return t.Vecs[i*t.Dim : (i+1)*t.Dim] }

// DimError reports a file whose vectors have another dimension than
// Options.Dim asked for; callers can then say how to fit the model to it.
type DimError struct {
	File      string
	Line      int64
	Dim, Want int
}

func (e *DimError) Error() string {
	return fmt.Sprintf("%s:%d: vectors of %d values, want %d", e.File, e.Line, e.Dim, e.Want)
}

// Read reads the vectors of words from the file at path (plain, gzip or
// bzip2, detected from its first bytes). words are in vocabulary id order;
// an empty word is never matched, which keeps reserved entries (padding) as
// they are.
func Read(path string, words []string, opt Options) (*Table, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read vectors: %w", err)
	}
	defer f.Close()
	return Decode(f, path, words, opt)
}

// Decode is Read over an open stream; name is the file name its errors
// give.
func Decode(r io.Reader, name string, words []string, opt Options) (*Table, error) {
	// data's detection, so vectors and reviews take the same compressions
	// and refuse the same others.
	in, _, err := data.Decompress(r)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	d := decoder{name: name, opt: opt, index: make(map[string]int32, len(words)), t: &Table{}}
	for i, w := range words {
		if _, dup := d.index[w]; w != "" && !dup {
			d.index[w] = int32(i)
		}
	}
	d.nwords = len(words)
	d.exact = make([]bool, len(words))
	br := bufio.NewReaderSize(in, 64<<10)
	var long []byte // a line longer than br's buffer, gathered
	for {
		chunk, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			if long = append(long, chunk...); len(long) > maxLine {
				return nil, fmt.Errorf("%s:%d: line longer than %d MiB: not a vector file", name, d.line+1, maxLine>>20)
			}
			continue
		}
		if err != nil && err != io.EOF {
			// A stream that fails mid-line (a gzip file cut short) must
			// not have its last piece read as a short vector.
			return nil, fmt.Errorf("read %s after line %d: %w", name, d.line, err)
		}
		if long != nil {
			chunk, long = append(long, chunk...), nil
		}
		if len(chunk) > 0 {
			d.line++
			if perr := d.parse(strings.TrimSuffix(string(chunk), "\n")); perr != nil {
				return nil, perr
			}
		}
		if err == io.EOF {
			break
		}
	}
	return d.finish()
}

// decoder is the state of one pass over a file.
type decoder struct {
	name    string
	opt     Options
	index   map[string]int32
	nwords  int
	t       *Table
	exact   []bool // per word: its own spelling was read
	line    int64  // lines read, blank ones and the header included
	count   int64  // the header's vector count; -1 without a header
	dimLine int64  // the line that fixed the dimension
	fields  []string
	scratch []float32
}

func (d *decoder) errorf(format string, args ...any) error {
	return fmt.Errorf("%s:%d: %s", d.name, d.line, fmt.Sprintf(format, args...))
}

// parse takes one line: the header, a vector or a blank line.
func (d *decoder) parse(line string) error {
	if d.line == 1 {
		line = strings.TrimPrefix(line, "\uFEFF")
	}
	d.fields = splitSpaces(line, d.fields[:0])
	if len(d.fields) == 0 {
		d.t.Blank++
		return nil
	}
	if d.dimLine == 0 {
		if isHeader(d.fields) {
			return d.header()
		}
		d.count = -1
		if err := d.setDim(len(d.fields)-1, "its word"); err != nil {
			return err
		}
	}
	return d.vector()
}

// isHeader says whether the first line is word2vec's "count dimension":
// two integers. A GloVe line of one value would need a number for a word.
func isHeader(f []string) bool {
	if len(f) != 2 {
		return false
	}
	_, e1 := strconv.ParseInt(f[0], 10, 64)
	_, e2 := strconv.ParseInt(f[1], 10, 64)
	return e1 == nil && e2 == nil
}

func (d *decoder) header() error {
	n, _ := strconv.ParseInt(d.fields[0], 10, 64)
	dim, _ := strconv.ParseInt(d.fields[1], 10, 64)
	if n < 0 || dim < 0 {
		return d.errorf("header %q: want a vector count and a dimension, both positive", d.fields[0]+" "+d.fields[1])
	}
	d.count, d.t.Header = n, true
	return d.setDim(int(dim), "the header")
}

// setDim fixes the dimension from the header or the first vector.
func (d *decoder) setDim(dim int, from string) error {
	if dim == 0 {
		return d.errorf("dimension 0: %s is followed by no space-separated values", from)
	}
	if dim > maxDim {
		return d.errorf("dimension %d: more than %d values per word is not a vector file", dim, maxDim)
	}
	if d.opt.Dim > 0 && dim != d.opt.Dim {
		return &DimError{File: d.name, Line: d.line, Dim: dim, Want: d.opt.Dim}
	}
	d.t.Dim, d.dimLine = dim, d.line
	d.t.Vecs = make([]float32, d.nwords*dim)
	d.t.Found = make([]bool, d.nwords)
	d.scratch = make([]float32, dim)
	return nil
}

// vector checks one vector line and keeps it when the vocabulary wants it.
func (d *decoder) vector() error {
	t := d.t
	t.Lines++
	if d.count >= 0 && t.Lines > d.count {
		return d.errorf("more vectors than the header (line 1) counts: %d", d.count)
	}
	word, vals := d.fields[0], d.fields[1:]
	if len(vals) != t.Dim {
		from := "the header's"
		if !t.Header {
			from = fmt.Sprintf("line %d's", d.dimLine)
		}
		return d.errorf("word %q has %d values, want %d (%s dimension)", word, len(vals), t.Dim, from)
	}
	for i, s := range vals {
		v, err := strconv.ParseFloat(s, 32)
		switch {
		case errors.Is(err, strconv.ErrRange):
			return d.errorf("word %q value %d (%s) is out of float32 range", word, i+1, s)
		case err != nil:
			return d.errorf("word %q value %d (%q) is not a number", word, i+1, s)
		case math.IsNaN(v) || math.IsInf(v, 0):
			return d.errorf("word %q value %d is %s: vectors must be finite", word, i+1, s)
		}
		d.scratch[i] = float32(v)
	}
	id, ok := d.index[word]
	switch {
	case ok && d.exact[id]:
		t.Duplicates++
	case ok:
		if t.Found[id] { // a case variant came first: the own spelling wins
			t.Folded--
			t.Variants++
		}
		d.keep(id)
		d.exact[id] = true
		t.Exact++
	default:
		d.variant(word)
	}
	return nil
}

// variant places a word the vocabulary does not spell exactly: under
// Options.Fold its lower case may be a vocabulary word still without one.
func (d *decoder) variant(word string) {
	t := d.t
	if !d.opt.Fold {
		t.Unmatched++
		return
	}
	low := strings.ToLower(word)
	id, ok := d.index[low]
	switch {
	case low == word || !ok:
		t.Unmatched++
	case t.Found[id]:
		t.Variants++
	default:
		d.keep(id)
		t.Folded++
	}
}

func (d *decoder) keep(id int32) {
	copy(d.t.Row(int(id)), d.scratch)
	d.t.Found[id] = true
}

// finish checks the whole file against its header.
func (d *decoder) finish() (*Table, error) {
	switch {
	case d.dimLine == 0:
		return nil, fmt.Errorf("%s: empty: no vectors", d.name)
	case d.t.Lines == 0:
		return nil, fmt.Errorf("%s:%d: no vectors after the header", d.name, d.line)
	case d.count >= 0 && d.t.Lines < d.count:
		return nil, fmt.Errorf("%s:%d: the file ends after %d vectors, the header (line 1) counts %d: cut short?", d.name, d.line, d.t.Lines, d.count)
	}
	return d.t, nil
}

// splitSpaces appends the space-separated fields of line to dst: runs of
// spaces and a trailing CR are separators, and nothing else is, since a
// vector file's words may hold any other character (fastText's hold
// no-break spaces).
func splitSpaces(line string, dst []string) []string {
	line = strings.TrimRight(line, " \r")
	for len(line) > 0 {
		i := strings.IndexByte(line, ' ')
		if i < 0 {
			return append(dst, line)
		}
		if i > 0 {
			dst = append(dst, line[:i])
		}
		line = line[i+1:]
	}
	return dst
}

package data

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"testing"
	"unicode/utf8"
)

// readOutcome is everything a reader produced from one input.
type readOutcome struct {
	reviews []Review
	stats   ReadStats
	err     error // nil at a clean end
}

func (o readOutcome) String() string {
	return fmt.Sprintf("%d reviews %v, stats %+v, err %v", len(o.reviews), o.reviews, o.stats, o.err)
}

func readOutcomeOf(t *testing.T, in []byte, opts ReaderOptions) readOutcome {
	r, err := openReader("fuzz", bytes.NewReader(in), int64(len(in)), nil, opts)
	if err != nil {
		return readOutcome{err: err}
	}
	var o readOutcome
	for {
		c, err := r.NextChunk()
		if err == io.EOF {
			break
		}
		if err != nil {
			o.err = err
			break
		}
		if len(c.Reviews) == 0 {
			t.Fatal("empty chunk")
		}
		o.reviews = append(o.reviews, c.Reviews...)
	}
	o.stats = r.Stats()
	return o
}

// checkReader asserts what must hold for any input: no panic; each review
// has a valid label, non-blank valid UTF-8 text and a line inside the
// input, in increasing order; the counts add up; a failure is either a
// RecordError naming a line inside the input or a whole-input error; the
// strict reader's reviews are a prefix of the skipping reader's; and a
// tiny read buffer (many refills) gives the same result as the default.
func checkReader(t *testing.T, in []byte, format string) {
	lines := int64(bytes.Count(in, []byte{'\n'})) + 1
	// 8 KiB stands for the default 1 MiB buffer: either way all these
	// inputs fit, and fuzzing runs faster without megabyte allocations.
	base := ReaderOptions{Format: format, MaxRecordBytes: 64, ChunkBytes: 100, bufBytes: 8 << 10}
	var outcomes [2]readOutcome
	for i, skip := range []bool{false, true} {
		opts := base
		opts.SkipBad = skip
		o := readOutcomeOf(t, in, opts)
		outcomes[i] = o
		var last int64
		for _, rv := range o.reviews {
			if rv.Label > Positive || isBlank([]byte(rv.Text)) || !utf8.ValidString(rv.Text) || rv.Line <= last || rv.Line > lines {
				t.Fatalf("skip=%v: bad review %+v (previous line %d, %d lines)", skip, rv, last, lines)
			}
			last = rv.Line
		}
		st := o.stats
		if st.Records != st.Kept+st.SkippedTotal()+st.DroppedByLabelMap || st.Kept != int64(len(o.reviews)) {
			t.Fatalf("skip=%v: counts do not add up: %+v, %d reviews", skip, st, len(o.reviews))
		}
		var re *RecordError
		switch {
		case o.err == nil:
		case errors.As(o.err, &re):
			if skip || re.Line < 1 || re.Line > lines || re.Reason == "" || re.File != "fuzz" {
				t.Fatalf("skip=%v: record error %+v for a %d-line input", skip, re, lines)
			}
		case errors.Is(o.err, ErrEmpty) || errors.Is(o.err, ErrUnsupported) || errors.Is(o.err, ErrTruncated) || errors.Is(o.err, ErrCorrupt):
		default:
			t.Fatalf("skip=%v: unexpected error %v", skip, o.err)
		}
		// the same input through a buffer barely larger than a record
		small := opts
		small.bufBytes = 67
		if so := readOutcomeOf(t, in, small); so.String() != o.String() {
			t.Fatalf("skip=%v: small buffer gives\n%v\ndefault buffer gives\n%v", skip, so, o)
		}
	}
	strict, lenient := outcomes[0], outcomes[1]
	if len(strict.reviews) > len(lenient.reviews) || fmt.Sprint(strict.reviews) != fmt.Sprint(lenient.reviews[:len(strict.reviews)]) {
		t.Fatalf("strict reviews are not a prefix of skipping ones:\n%v\n%v", strict, lenient)
	}
}

func FuzzFastTextReader(f *testing.F) {
	for _, s := range []string{
		"__label__1 good\n__label__2 bad\n",
		"\ufeff__label__2 a\r\n\r\n__label__1 b",
		"__label__7 x\n__label__\n__label__1\nno label\n__label__2 caf\xe9\n",
		"__label__1 " + string(bytes.Repeat([]byte("z"), 100)) + "\n__label__2 ok\n",
		"\n\n  \n",
		"",
		"__label__1\tTab separated\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		checkReader(t, in, FormatFastText)
	})
}

func FuzzCSVReader(f *testing.F) {
	for _, s := range []string{
		"\"1\",\"t\",\"b\"\n\"2\",\"t2\",\"b\"\"q\"\"\\nx\"\n",
		"1,a,b\r\n2,c,d\r\n",
		"label,text\n1,x\n2,\"multi\nline\"\n",
		"\"1\",\"t\",\"open\n1,x,y\n",
		"\"2\",\"bad\"quote\",\"b\"\n\"1\",\"a\",\"b\"\n",
		"\"1\",\"t\"\n\"2\",\"a\",\"b\",\"c\"\n",
		"\"3\",\"t\",\"b\"\n\"\",\"t\",\"b\"\n\"1\",\"\",\"\"\n",
		"\"1\",\"" + string(bytes.Repeat([]byte("w"), 90)) + "\",\"b\"\n1,x,y",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		checkReader(t, in, FormatCSV)
	})
}

// FuzzTokenizer checks the ASCII fast path against the scalar cleaner and
// that treebank pieces rebuild the split tokens, under every setting.
func FuzzTokenizer(f *testing.F) {
	for _, s := range []string{"Don't STOP... we're gonna 'rock'n'roll'!", "café’s — naïve", "a''b '' 'tis cannot", "\x00\x7f\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		for _, p := range allSettings(TokenizerSplit) {
			checkFastPath(t, p, text)
			split := tokenStrings(NewTokenizer(p).Tokens(text))
			p.Tokenizer = TokenizerTreebank
			pieces := tokenStrings(NewTokenizer(p).Tokens(text))
			if len(pieces) < len(split) || bytesJoin(pieces) != bytesJoin(split) {
				t.Fatalf("%s: treebank %q does not rebuild split %q", p.Key(), pieces, split)
			}
			for _, s := range pieces {
				if s == "" {
					t.Fatalf("%s: empty token in %q", p.Key(), pieces)
				}
			}
		}
	})
}

func bytesJoin(s []string) string {
	var b bytes.Buffer
	for _, x := range s {
		b.WriteString(x)
	}
	return b.String()
}

package wordvec

import (
	"bytes"
	"compress/gzip"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// vocab is the vocabulary the tests ask for: "" is a reserved entry
// (padding) that no line may fill.
var vocab = []string{"", "good", "bad", "paris", "movie"}

// writeFile writes content to a file in a fresh directory, gzipped when
// zip is set, and returns its path.
func writeFile(t *testing.T, content string, zip bool) string {
	t.Helper()
	b := []byte(content)
	if zip {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		zw.Write(b)
		zw.Close()
		b = buf.Bytes()
	}
	path := filepath.Join(t.TempDir(), "vectors.vec")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestRead(t *testing.T) {
	tests := []struct {
		name    string
		content string
		opt     Options
		zip     bool
		dim     int
		header  bool
		rows    map[int][]float32 // vocabulary id -> vector; the others must be absent
		stats   Stats
	}{
		{
			name:    "glove, no header",
			content: "good 1 2\nthe 0 0\nbad -1 -2.5\n",
			dim:     2, rows: map[int][]float32{1: {1, 2}, 2: {-1, -2.5}},
			stats: Stats{Lines: 3, Exact: 2, Unmatched: 1},
		},
		{
			name:    "word2vec header",
			content: "2 3\ngood 1 2 3\nmovie 4 5 6\n",
			dim:     3, header: true, rows: map[int][]float32{1: {1, 2, 3}, 4: {4, 5, 6}},
			stats: Stats{Lines: 2, Exact: 2},
		},
		{
			name:    "gzip, CRLF, trailing and double spaces, BOM, blank line",
			content: "\uFEFF2 2\r\ngood  1 2 \r\n\r\nbad 3 4\r\n",
			zip:     true, dim: 2, header: true, rows: map[int][]float32{1: {1, 2}, 2: {3, 4}},
			stats: Stats{Lines: 2, Exact: 2, Blank: 1},
		},
		{
			name:    "duplicate: the first is kept",
			content: "good 1\ngood 2\n",
			dim:     1, rows: map[int][]float32{1: {1}},
			stats: Stats{Lines: 2, Exact: 1, Duplicates: 1},
		},
		{
			name:    "no folding unless asked",
			content: "Paris 1\n",
			dim:     1, stats: Stats{Lines: 1, Unmatched: 1},
		},
		{
			name:    "folded fallback",
			content: "Paris 1\nPARIS 2\n",
			opt:     Options{Fold: true}, dim: 1, rows: map[int][]float32{3: {1}},
			stats: Stats{Lines: 2, Folded: 1, Variants: 1},
		},
		{
			name:    "an exact spelling after a variant wins",
			content: "Paris 1\nparis 2\nParis 3\n",
			opt:     Options{Fold: true}, dim: 1, rows: map[int][]float32{3: {2}},
			stats: Stats{Lines: 3, Exact: 1, Variants: 2},
		},
		{
			name:    "an exact spelling before a variant wins",
			content: "paris 2\nParis 1\n",
			opt:     Options{Fold: true}, dim: 1, rows: map[int][]float32{3: {2}},
			stats: Stats{Lines: 2, Exact: 1, Variants: 1},
		},
		{
			name:    "the reserved empty word is never filled",
			content: "good 1\n",
			dim:     1, rows: map[int][]float32{1: {1}},
			stats: Stats{Lines: 1, Exact: 1},
		},
		{
			name:    "words may hold no-break spaces and tabs",
			content: "go\u00a0od 1\nba\td 2\n",
			dim:     1, stats: Stats{Lines: 2, Unmatched: 2},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tab, err := Read(writeFile(t, tt.content, tt.zip), vocab, tt.opt)
			if err != nil {
				t.Fatal(err)
			}
			if tab.Dim != tt.dim || tab.Header != tt.header {
				t.Errorf("dim %d header %v, want %d %v", tab.Dim, tab.Header, tt.dim, tt.header)
			}
			if tab.Stats != tt.stats {
				t.Errorf("stats %+v, want %+v", tab.Stats, tt.stats)
			}
			s := tab.Stats
			if s.Lines != int64(s.Exact+s.Folded)+s.Duplicates+s.Variants+s.Unmatched {
				t.Errorf("stats %+v do not account for every line", s)
			}
			for i := range vocab {
				want, ok := tt.rows[i]
				if tab.Found[i] != ok {
					t.Errorf("word %d %q found %v, want %v", i, vocab[i], tab.Found[i], ok)
				}
				if !ok {
					want = make([]float32, tab.Dim)
				}
				if !slices.Equal(tab.Row(i), want) {
					t.Errorf("word %d %q: vector %v, want %v", i, vocab[i], tab.Row(i), want)
				}
			}
		})
	}
}

func TestReadErrors(t *testing.T) {
	tests := []struct {
		name, content, want string
		opt                 Options
	}{
		{"empty file", "", ": empty: no vectors", Options{}},
		{"blank lines only", "\n \n", ": empty: no vectors", Options{}},
		{"header dimension 0", "3 0\n", ":1: dimension 0", Options{}},
		{"negative header", "-1 5\n", ":1: header \"-1 5\"", Options{}},
		{"huge header dimension", "1 100000000\n", ":1: dimension 100000000: more than", Options{}},
		{"word without values", "good\n", ":1: dimension 0", Options{}},
		{"too few values for the header", "2 3\ngood 1 2 3\nbad 1 2\n", `:3: word "bad" has 2 values, want 3 (the header's dimension)`, Options{}},
		{"too many values for line 1", "good 1 2\nbad 1 2 3\n", `:2: word "bad" has 3 values, want 2 (line 1's dimension)`, Options{}},
		{"not a number", "good 1 x\n", `:1: word "good" value 2 ("x") is not a number`, Options{}},
		{"NaN", "good 1\nbad NaN\n", `:2: word "bad" value 1 is NaN`, Options{}},
		{"Inf", "good -Inf\n", `:1: word "good" value 1 is -Inf`, Options{}},
		{"float32 overflow", "good 1e39\n", `:1: word "good" value 1 (1e39) is out of float32 range`, Options{}},
		{"header counts fewer", "1 1\ngood 1\nbad 2\n", ":3: more vectors than the header (line 1) counts: 1", Options{}},
		{"header counts more", "3 1\ngood 1\nbad 2\n", ":3: the file ends after 2 vectors, the header (line 1) counts 3", Options{}},
		{"header alone", "3 1\n", ":1: no vectors after the header", Options{}},
		{"unwanted dimension", "good 1 2\n", ":1: vectors of 2 values, want 3", Options{Dim: 3}},
		{"bad values in a word outside the vocabulary", "good 1\nzebra ?\n", `:2: word "zebra" value 1 ("?") is not a number`, Options{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeFile(t, tt.content, false)
			_, err := Read(path, vocab, tt.opt)
			if err == nil {
				t.Fatal("no error")
			}
			if msg := err.Error(); !strings.HasPrefix(msg, path) || !strings.Contains(msg, tt.want) || strings.Contains(msg, "\n") {
				t.Fatalf("error %q: want one line starting with the file and holding %q", msg, tt.want)
			}
		})
	}
}

func TestReadDimError(t *testing.T) {
	_, err := Read(writeFile(t, "100 300\n", false), vocab, Options{Dim: 50})
	var de *DimError
	if !errors.As(err, &de) || de.Dim != 300 || de.Want != 50 || de.Line != 1 {
		t.Fatalf("error %v (%+v), want a DimError of 300 against 50 at line 1", err, de)
	}
}

func TestReadRefusesOtherCompressions(t *testing.T) {
	// data's detection refuses zstd rather than parse its bytes as words.
	_, err := Read(writeFile(t, "\x28\xb5\x2f\xfd rest", false), vocab, Options{})
	if err == nil || !strings.Contains(err.Error(), "zstd") {
		t.Fatalf("error %v, want zstd refused", err)
	}
}

func TestReadTruncatedGzip(t *testing.T) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	for range 2000 {
		zw.Write([]byte("good 1 2 3 4 5 6 7 8\n"))
	}
	zw.Close()
	path := filepath.Join(t.TempDir(), "cut.vec.gz")
	if err := os.WriteFile(path, buf.Bytes()[:buf.Len()/2], 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Read(path, vocab, Options{}); err == nil || !strings.Contains(err.Error(), "read "+path+" after line") {
		t.Fatalf("error %v, want the read error after the last line", err)
	}
}

func FuzzDecode(f *testing.F) {
	f.Add("2 2\ngood 1 2\nParis 3 4\n")
	f.Add("good 1\r\ngood 2 \n\nbad NaN\n")
	f.Fuzz(func(t *testing.T, content string) {
		tab, err := Decode(strings.NewReader(content), "f.vec", vocab, Options{Fold: true})
		if err != nil {
			if strings.Contains(err.Error(), "\n") || !strings.HasPrefix(err.Error(), "f.vec") && !strings.HasPrefix(err.Error(), "read f.vec") {
				t.Fatalf("error %q is not one line naming the file", err)
			}
			return
		}
		s := tab.Stats
		if tab.Dim < 1 || len(tab.Vecs) != len(vocab)*tab.Dim || tab.Found[0] {
			t.Fatalf("table of dim %d, %d values, pad found %v", tab.Dim, len(tab.Vecs), tab.Found[0])
		}
		if s.Lines != int64(s.Matched())+s.Duplicates+s.Variants+s.Unmatched {
			t.Fatalf("stats %+v do not account for every line", s)
		}
	})
}

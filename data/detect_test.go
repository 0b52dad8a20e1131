package data

import (
	"io"
	"os"
	"strings"
	"testing"
)

// TestCompressionAndFormatFromContent checks that detection looks at the
// bytes: every fixture is saved under a misleading name.
func TestCompressionAndFormatFromContent(t *testing.T) {
	ft, err := os.ReadFile("testdata/reviews.ft.txt")
	if err != nil {
		t.Fatal(err)
	}
	csv, err := os.ReadFile("testdata/reviews.csv")
	if err != nil {
		t.Fatal(err)
	}
	bz, err := os.ReadFile("testdata/reviews.ft.txt.bz2")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, comp, format string
		content            []byte
	}{
		{"a.csv", CompressionPlain, FormatFastText, ft},
		{"a.txt", CompressionGzip, FormatFastText, gzipFixture(t, ft)},
		{"a.gz", CompressionBzip2, FormatFastText, bz},
		{"a.ft.txt", CompressionPlain, FormatCSV, csv},
		{"a.bz2", CompressionGzip, FormatCSV, gzipFixture(t, csv)},
	}
	for _, c := range cases {
		r, err := Open(writeFixture(t, c.name, c.content), ReaderOptions{})
		if err != nil {
			t.Fatal(err)
		}
		revs, err := readAllReviews(r)
		if err != nil {
			t.Fatal(err)
		}
		if r.Compression() != c.comp || r.Format() != c.format || len(revs) != 3 {
			t.Errorf("%s: %s %s, %d reviews; want %s %s, 3", c.name, r.Compression(), r.Format(), len(revs), c.comp, c.format)
		}
		done, total := r.Progress()
		if done != int64(len(c.content)) || total != int64(len(c.content)) {
			t.Errorf("%s: progress %d/%d, want %d/%d", c.name, done, total, len(c.content), len(c.content))
		}
		r.Close()
	}
}

func TestDetectFormat(t *testing.T) {
	cases := []struct{ in, want string }{
		{"__label__1 x\n", FormatFastText},
		{"\n\n  __label__2 x", FormatFastText},
		{`"1","a","b"`, FormatCSV},
		{"1,a title,a body\n", FormatCSV},
		{"label,title,text\n", FormatCSV},
		{"no label here, but a comma\n", FormatFastText},
		{"__label__1,with comma", FormatFastText},
		{"", FormatFastText},
	}
	for _, c := range cases {
		if got := detectFormat([]byte(c.in)); got != c.want {
			t.Errorf("detectFormat(%q) = %s, want %s", c.in, got, c.want)
		}
	}
}

func TestNormalizeCR(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"a\nb\n", "a\nb\n"},
		{"a\r\nb\r\n", "a\r\nb\r\n"},
		{"a\rb\rc", "a\nb\nc"},
		{"one\rstill one\nnext\n", "one\rstill one\nnext\n"},
		{"", ""},
	} {
		got, err := io.ReadAll(NormalizeCR(strings.NewReader(c.in)))
		if err != nil || string(got) != c.want {
			t.Errorf("NormalizeCR(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
}

package data

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestStripFastTextLabel(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"__label__1\tgreat product", "great product"},
		{"__label__1 great product", "great product"},
		{"__label__2  two spaces", " two spaces"},
		{"__label__2", ""},
		{"no label here", "no label here"},
	} {
		if got := StripFastTextLabel(c.in); got != c.want {
			t.Errorf("StripFastTextLabel(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// TestReadTextLines: every line is one review in order, labels dropped,
// whether the input is plain, gzip or ends its lines in CR alone, and the
// chunks hold at most chunk reviews.
func TestReadTextLines(t *testing.T) {
	const text = "__label__2\tgreat product\n__label__1 awful\n\nno label here\n"
	want := []string{"great product", "awful", "", "no label here"}
	cases := []struct {
		name   string
		in     []byte
		chunk  int
		chunks []int
	}{
		{"plain", []byte(text), 100, []int{4}},
		{"chunked", []byte(text), 3, []int{3, 1}},
		{"exact chunks", []byte(text), 2, []int{2, 2}},
		{"chunk 0 is 1", []byte(text), 0, []int{1, 1, 1, 1}},
		{"gzip", gzipFixture(t, []byte(text)), 100, []int{4}},
		{"cr only", []byte(strings.ReplaceAll(text, "\n", "\r")), 100, []int{4}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var got []string
			var sizes []int
			err := ReadTextLines(strings.NewReader(string(c.in)), "in", c.chunk, func(texts []string) error {
				got = append(got, texts...)
				sizes = append(sizes, len(texts))
				return nil
			})
			if err != nil || !slices.Equal(got, want) || !slices.Equal(sizes, c.chunks) {
				t.Fatalf("got %q in chunks %v, %v; want %q in %v", got, sizes, err, want, c.chunks)
			}
		})
	}
}

// TestReadTextLinesErrors: a line over the record limit names the input
// and the line, a refused compression names the input, and an error of
// the callback stops the reading as it is.
func TestReadTextLinesErrors(t *testing.T) {
	stop := errors.New("stop")
	long := "ok\n" + strings.Repeat("x", DefaultMaxRecordBytes+1) + "\n"
	cases := []struct {
		name, in string
		each     error
		want     string
	}{
		{"overlong line", long, nil, "reviews.txt line 2: "},
		{"xz", "\xfd7zXZ\x00 rest", nil, "read reviews.txt: "},
		{"callback", "a\nb\n", stop, "stop"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := ReadTextLines(strings.NewReader(c.in), "reviews.txt", 1, func([]string) error { return c.each })
			if err == nil || !strings.HasPrefix(err.Error(), c.want) || (c.each != nil && !errors.Is(err, c.each)) {
				t.Fatalf("error %v, want one starting %q", err, c.want)
			}
		})
	}
}

// TestTextSource: given texts come in one call as they are, a file comes
// a chunk at a time with its labels dropped, and only a source that
// opened a file has one to close.
func TestTextSource(t *testing.T) {
	path := filepath.Join(t.TempDir(), "reviews.txt")
	if err := os.WriteFile(path, []byte("__label__2 good\nbad\nfine\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	file, err := OpenTextFile(path)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		src    TextSource
		want   []string
		chunks []int
	}{
		{"given", TextSource{Texts: []string{"__label__1 kept", "as is"}}, []string{"__label__1 kept", "as is"}, []int{2}},
		{"reader", TextSource{R: strings.NewReader("a\nb\nc\n"), Name: "stdin"}, []string{"a", "b", "c"}, []int{2, 1}},
		{"file", file, []string{"good", "bad", "fine"}, []int{2, 1}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var got []string
			var sizes []int
			err := c.src.Each(2, func(texts []string) error {
				got = append(got, texts...)
				sizes = append(sizes, len(texts))
				return nil
			})
			if err != nil || !slices.Equal(got, c.want) || !slices.Equal(sizes, c.chunks) {
				t.Fatalf("got %q in chunks %v, %v; want %q in %v", got, sizes, err, c.want, c.chunks)
			}
			if err := c.src.Close(); err != nil {
				t.Fatal(err)
			}
		})
	}
	if err := file.Close(); err == nil {
		t.Fatal("closing the file twice succeeded")
	}
	if _, err := OpenTextFile(filepath.Join(t.TempDir(), "missing.txt")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing file: %v", err)
	}
}

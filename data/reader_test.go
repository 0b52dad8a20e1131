package data

import (
	"bytes"
	"compress/gzip"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"unsafe"

	"github.com/zeebo/xxh3"
)

// realData is where the shared real review files live, seen from the
// package directory.
const realData = "../../shared/data"

func openReal(t testing.TB, rel string) *Reader {
	t.Helper()
	path := filepath.Join(realData, rel)
	if _, err := os.Stat(path); err != nil {
		t.Skipf("real data %s not present (%v); skipping", path, err)
	}
	r, err := Open(path, ReaderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// writeFixture writes a fixture into a fresh temporary directory.
func writeFixture(t testing.TB, name string, content []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, content, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func gzipFixture(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// bzip2Bytes compresses with the bzip2 program (the standard library only
// decompresses); it skips the test when the program is missing.
func bzip2Bytes(t testing.TB, b []byte, level string) []byte {
	t.Helper()
	bin, err := exec.LookPath("bzip2")
	if err != nil {
		t.Skip("bzip2 program not installed; skipping bzip2 fixture generation")
	}
	cmd := exec.Command(bin, "-c", level)
	cmd.Stdin = bytes.NewReader(b)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("bzip2: %v", err)
	}
	return out
}

// manyLines is n well-formed fastText reviews.
func manyLines(n int) []byte {
	var b bytes.Buffer
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "__label__%d Review %d: some words about item number %d, and why it is %s.\n", 1+i%2, i, i*7919, []string{"bad", "good"}[i%2])
	}
	return b.Bytes()
}

// readAllReviews drains a reader, returning the reviews and the final error
// (nil at a clean end).
func readAllReviews(r *Reader) ([]Review, error) {
	var out []Review
	rs := &oneByOne{r: r}
	for {
		rv, err := rs.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, rv)
	}
}

func readPath(t *testing.T, path string, opts ReaderOptions) ([]Review, ReadStats, error) {
	t.Helper()
	r, err := Open(path, opts)
	if err != nil {
		return nil, ReadStats{}, err
	}
	defer r.Close()
	revs, err := readAllReviews(r)
	return revs, r.Stats(), err
}

// TestBadInput has one case per kind of bad input: the strict error (its
// sentinel or reason, line and message) and what SkipBad does.
func TestBadInput(t *testing.T) {
	good := "__label__1 Fine: a normal review\n"
	long := "__label__1 " + strings.Repeat("x", 10<<20) + "\n"
	many := manyLines(3000)
	gz := gzipFixture(t, many)
	corrupt := append([]byte(nil), gz...)
	corrupt[len(corrupt)-8] ^= 0xff // the CRC-32 in the gzip trailer
	type tc struct {
		name    string
		content []byte // file content; nil with dir/missing
		file    string // file name (suffix does not matter to the reader)
		dir     bool   // pass a directory
		missing bool   // pass a path that does not exist
		opts    ReaderOptions
		// strict outcome: a sentinel, or a RecordError with reason and line
		wantIs     error
		wantReason string
		wantLine   int64
		wantMsg    string // substring of the error text
		// SkipBad outcome (ignored when hard is set): kept reviews and
		// skipped count for wantReason
		hard        bool
		skipKept    int64
		skipSkipped int64
	}
	cases := []tc{
		{name: "label not in map", content: []byte(good + "__label__7 Stars: seven\n" + good),
			wantReason: ReasonBadLabel, wantLine: 2, wantMsg: `line 2: label "__label__7" is not in the label map (known: 1, 2)`, skipKept: 2, skipSkipped: 1},
		{name: "malformed label", content: []byte(good + good + "__label__ no label value\n"),
			wantReason: ReasonBadLabel, wantLine: 3, wantMsg: `line 3: malformed label "__label__"`, skipKept: 2, skipSkipped: 1},
		{name: "missing label", content: []byte(good + "this line has no label\n" + good),
			wantReason: ReasonMissingLabel, wantLine: 2, wantMsg: `line 2: no label: the line starts with "this line has no lab"..., not "__label__"`, skipKept: 2, skipSkipped: 1},
		{name: "label but no text", content: []byte(good + "__label__2\n" + "__label__1   \r\n" + good),
			wantReason: ReasonMissingText, wantLine: 2, wantMsg: `line 2: label "__label__2" but no text`, skipKept: 2, skipSkipped: 2},
		{name: "invalid utf-8", content: []byte(good + "__label__2 caf\xe9 latin-1\n" + good),
			wantReason: ReasonInvalidUTF8, wantLine: 2, wantMsg: "line 2: invalid UTF-8: byte 0xe9 at byte offset 14", skipKept: 2, skipSkipped: 1},
		{name: "10 MB line", content: []byte(good + long + good),
			wantReason: ReasonTooLong, wantLine: 2, wantMsg: "line 2: record is longer than the 1048576-byte limit", skipKept: 2, skipSkipped: 1},
		{name: "truncated gzip", content: gz[:len(gz)*6/10], file: "cut.txt",
			wantIs: ErrTruncated, wantMsg: "compressed stream is truncated: the gzip stream ends early, after line", hard: true},
		{name: "corrupt gzip", content: corrupt,
			wantIs: ErrCorrupt, wantMsg: "compressed stream is corrupt", hard: true},
		{name: "csv wrong field count", content: []byte(`"1","t","b"` + "\n" + `"2","only two"` + "\n" + `"2","a","b","c"` + "\n" + `"1","t","b"` + "\n"), file: "x.csv",
			wantReason: ReasonCSVFields, wantLine: 2, wantMsg: "line 2: 2 CSV fields, want 3 (label, title, body) like the records before", skipKept: 2, skipSkipped: 2},
		{name: "csv stray quote", content: []byte(`"1","t","b"` + "\n" + `"2","t","never closed` + "\n" + `"1","t2","b2"` + "\n"), file: "x.csv",
			wantReason: ReasonCSVQuote, wantLine: 2, wantMsg: "line 2: unterminated quote: field 3, opened on line 2, runs on to line 3, where \"1\" follows", skipKept: 2, skipSkipped: 1},
		{name: "csv quote followed by text", content: []byte(`"1","t","b"` + "\n" + `"2","t","say "hi" twice"` + "\n" + `"1","t2","b2"` + "\n"), file: "x.csv",
			wantReason: ReasonCSVQuote, wantLine: 2, wantMsg: "line 2: unexpected \"h\" after the closing quote of field 3", skipKept: 2, skipSkipped: 1},
		{name: "csv unterminated quote", content: []byte(`"1","t","b"` + "\n" + `"2","t","open at the end` + "\n" + "1,t2,b2\n"), file: "x.csv",
			wantReason: ReasonCSVQuote, wantLine: 2, wantMsg: "line 2: unterminated quote: field 3, opened on line 2, is still open at the end of the input", skipKept: 2, skipSkipped: 1},
		{name: "empty file", content: []byte{}, wantIs: ErrEmpty, wantMsg: "no reviews: the input is empty (0 bytes)", hard: true},
		{name: "only blank lines", content: []byte("\n\r\n  \n"), wantIs: ErrEmpty, wantMsg: "(3 blank lines, no records)", hard: true},
		{name: "empty gzip", content: gzipFixture(t, nil), wantIs: ErrEmpty, wantMsg: "no data after gzip decompression", hard: true},
		{name: "directory", dir: true, wantIs: ErrIsDir, wantMsg: "is a directory, not a file", hard: true},
		{name: "missing file", missing: true, wantIs: fs.ErrNotExist, wantMsg: "file does not exist", hard: true},
		{name: "xz input", content: []byte("\xfd7zXZ\x00rest"), wantIs: ErrUnsupported, wantMsg: "xz compression", hard: true},
	}
	if bz := bzip2Fixture(t); bz != nil {
		cases = append(cases, tc{name: "truncated bzip2", content: bz[:len(bz)-20], file: "cut.bz2",
			wantIs: ErrTruncated, wantMsg: "the bzip2 stream ends early", hard: true})
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var path string
			switch {
			case c.dir:
				path = t.TempDir()
			case c.missing:
				path = filepath.Join(t.TempDir(), "nope.ft.txt")
			default:
				name := c.file
				if name == "" {
					name = "in.ft.txt"
				}
				path = writeFixture(t, name, c.content)
			}
			for _, skip := range []bool{false, true} {
				opts := c.opts
				opts.SkipBad = skip
				revs, st, err := readPath(t, path, opts)
				if skip && !c.hard {
					if err != nil {
						t.Fatalf("SkipBad: %v", err)
					}
					if st.Kept != c.skipKept || int64(len(revs)) != c.skipKept || st.Skipped[c.wantReason] != c.skipSkipped ||
						st.Records != st.Kept+st.SkippedTotal()+st.DroppedByLabelMap {
						t.Fatalf("SkipBad: kept %d (%d reviews), stats %+v; want kept %d, %d skipped as %s",
							st.Kept, len(revs), st, c.skipKept, c.skipSkipped, c.wantReason)
					}
					continue
				}
				if err == nil {
					t.Fatalf("skip=%v: no error", skip)
				}
				if strings.Count(err.Error(), "\n") != 0 || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), c.wantMsg) {
					t.Fatalf("skip=%v: error %q, want one line naming %s and containing %q", skip, err, path, c.wantMsg)
				}
				if !IsDataError(err) {
					t.Fatalf("IsDataError(%v) = false", err)
				}
				if c.wantIs != nil {
					if !errors.Is(err, c.wantIs) {
						t.Fatalf("error %v is not %v", err, c.wantIs)
					}
					continue
				}
				var re *RecordError
				if !errors.As(err, &re) || re.Reason != c.wantReason || re.Line != c.wantLine || re.File != path {
					t.Fatalf("error %#v, want RecordError %s at line %d", err, c.wantReason, c.wantLine)
				}
				if int64(len(revs)) != c.wantLine-1-st.Blank && c.name != "csv wrong field count" {
					t.Fatalf("%d reviews delivered before the error at line %d", len(revs), c.wantLine)
				}
			}
		})
	}
}

// bzip2Fixture is a multi-block bzip2 file (blocks of 100 kB), so that a
// cut one yields some lines before the error.
func bzip2Fixture(t *testing.T) []byte {
	if _, err := exec.LookPath("bzip2"); err != nil {
		t.Log("bzip2 program not installed; the truncated bzip2 case uses the committed fixture only")
		return nil
	}
	return bzip2Bytes(t, manyLines(5000), "-1")
}

func TestTruncatedCommittedBzip2(t *testing.T) {
	b, err := os.ReadFile("testdata/reviews.ft.txt.bz2")
	if err != nil {
		t.Fatal(err)
	}
	path := writeFixture(t, "cut.bz2", b[:len(b)-10])
	_, _, err = readPath(t, path, ReaderOptions{SkipBad: true})
	if !errors.Is(err, ErrTruncated) {
		t.Fatalf("error %v, want ErrTruncated", err)
	}
}

func TestTruncatedBzip2AfterSomeLines(t *testing.T) {
	bz := bzip2Bytes(t, manyLines(5000), "-1")
	revs, _, err := readPath(t, writeFixture(t, "cut.ft.txt", bz[:len(bz)*2/3]), ReaderOptions{})
	if !errors.Is(err, ErrTruncated) || len(revs) == 0 {
		t.Fatalf("%d reviews then %v; want some reviews then ErrTruncated", len(revs), err)
	}
	if !strings.Contains(err.Error(), fmt.Sprintf("after line %d", len(revs))) {
		t.Fatalf("error %q does not name the last line read (%d)", err, len(revs))
	}
}

func TestCRLFBOMAndBlankLines(t *testing.T) {
	in := "\ufeff__label__2 Good: fine\r\n\r\n__label__1 Bad: \tworse \r\n\n  \t\n__label__2 Last line, no newline"
	r, err := openReader("stdin", strings.NewReader(in), -1, nil, ReaderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	revs, err := readAllReviews(r)
	if err != nil {
		t.Fatal(err)
	}
	want := []Review{{Positive, "Good: fine", 1}, {Negative, "Bad: \tworse ", 3}, {Positive, "Last line, no newline", 6}}
	if fmt.Sprint(revs) != fmt.Sprint(want) {
		t.Fatalf("reviews %+v, want %+v", revs, want)
	}
	st := r.Stats()
	if st.Blank != 3 || st.Records != 3 || st.Kept != 3 {
		t.Fatalf("stats %+v, want 3 blank, 3 records", st)
	}
	if done, total := r.Progress(); total != -1 || done != int64(len(in)) {
		t.Fatalf("progress %d/%d, want %d/-1", done, total, len(in))
	}
}

func TestOpenStdin(t *testing.T) {
	f, err := os.Open("testdata/reviews.ft.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	saved := os.Stdin
	os.Stdin = f
	defer func() { os.Stdin = saved }()
	r, err := Open("-", ReaderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	revs, err := readAllReviews(r)
	if err != nil {
		t.Fatal(err)
	}
	if _, total := r.Progress(); len(revs) != 3 || r.Name() != "stdin" || total != -1 || revs[2].Line != 4 || r.Stats().Blank != 1 {
		t.Fatalf("stdin: %d reviews, name %q, total %d, stats %+v", len(revs), r.Name(), total, r.Stats())
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Stat(); err != nil {
		t.Fatal("Close closed standard input")
	}
}

func TestCSVReading(t *testing.T) {
	in := "\ufeff\"2\",\"Works well\",\"Sturdy, cheap, \"\"what\"\" it says.\"\r\n" +
		"\r\n" +
		"\"1\",\"Broke\",\"Snapped.\\nDon't buy.\"\r\n" +
		"\"2\",\"Multi\r\nline\",\"body\non two lines\"\n" +
		"1,unquoted title,unquoted \"body\"\n" +
		"\"2\",\"\",\"no title\"\n" +
		"2,title only,"
	r, err := openReader("x.csv", strings.NewReader(in), -1, nil, ReaderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	revs, err := readAllReviews(r)
	if err != nil {
		t.Fatal(err)
	}
	want := []Review{
		{Positive, `Works well Sturdy, cheap, "what" it says.`, 1},
		{Negative, "Broke Snapped. Don't buy.", 3},
		{Positive, "Multi  line body on two lines", 4},
		{Negative, `unquoted title unquoted "body"`, 7},
		{Positive, "no title", 8},
		{Positive, "title only", 9},
	}
	if r.Format() != FormatCSV || fmt.Sprintf("%+v", revs) != fmt.Sprintf("%+v", want) {
		t.Fatalf("format %s, reviews\n%+v\nwant\n%+v", r.Format(), revs, want)
	}
	if st := r.Stats(); st.Blank != 1 || st.Kept != 6 {
		t.Fatalf("stats %+v", st)
	}
}

func TestCSVTwoFieldsAndHeader(t *testing.T) {
	in := "label,text\n1,bad thing\n\"2\",\"good, thing\"\n"
	r, err := openReader("two.csv", strings.NewReader(in), -1, nil, ReaderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	revs, err := readAllReviews(r)
	if err != nil {
		t.Fatal(err)
	}
	if len(revs) != 2 || revs[1].Text != "good, thing" || revs[0].Line != 2 || r.Stats().Header != 1 {
		t.Fatalf("reviews %+v, stats %+v", revs, r.Stats())
	}
}

// TestLabelMapOnStars maps 1-5 star CSV ratings the way the CLI flag does.
func TestLabelMapOnStars(t *testing.T) {
	var b strings.Builder
	for i := 0; i < 50; i++ {
		fmt.Fprintf(&b, "\"%d\",\"title %d\",\"body\"\n", 1+i%5, i)
	}
	path := writeFixture(t, "stars.csv", []byte(b.String()))
	_, _, err := readPath(t, path, ReaderOptions{})
	var re *RecordError
	if !errors.As(err, &re) || re.Line != 3 || !strings.Contains(err.Error(), `label "3" is not in the label map (known: 1, 2)`) {
		t.Fatalf("default map on stars: %v", err)
	}
	m, err := ParseLabelMap("1,2=neg 4,5=pos 3=drop")
	if err != nil {
		t.Fatal(err)
	}
	revs, st, err := readPath(t, path, ReaderOptions{LabelMap: m})
	if err != nil {
		t.Fatal(err)
	}
	var pos int
	for _, rv := range revs {
		pos += int(rv.Label)
	}
	if len(revs) != 40 || pos != 20 || st.DroppedByLabelMap != 10 || st.Records != 50 {
		t.Fatalf("%d reviews, %d positive, stats %+v", len(revs), pos, st)
	}
}

func TestChunksShareOneAllocation(t *testing.T) {
	in := manyLines(2000)
	r, err := openReader("mem", bytes.NewReader(in), int64(len(in)), nil, ReaderOptions{ChunkBytes: 4096})
	if err != nil {
		t.Fatal(err)
	}
	var chunks, n int
	var line int64
	for {
		c, err := r.NextChunk()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		chunks++
		size := 0
		for i, rv := range c.Reviews {
			line++
			if rv.Line != line {
				t.Fatalf("review line %d, want %d", rv.Line, line)
			}
			size += len(rv.Text)
			if i > 0 {
				prev := c.Reviews[i-1].Text
				if unsafe.StringData(rv.Text) != (*byte)(unsafe.Add(unsafe.Pointer(unsafe.StringData(prev)), len(prev))) {
					t.Fatalf("chunk %d: review %d does not follow review %d in memory", chunks, i, i-1)
				}
			}
		}
		if size != c.TextBytes || size > 4096 && len(c.Reviews) > 1 {
			t.Fatalf("chunk %d: %d text bytes, TextBytes %d, limit 4096", chunks, size, c.TextBytes)
		}
		n += len(c.Reviews)
	}
	if n != 2000 || chunks < 30 {
		t.Fatalf("%d reviews in %d chunks", n, chunks)
	}
}

func TestRecordLimitAndSkipKeepsLineNumbers(t *testing.T) {
	in := "__label__1 short\n__label__2 " + strings.Repeat("y", 300) + "\n__label__1 after\n"
	r, err := openReader("lim", strings.NewReader(in), -1, nil, ReaderOptions{MaxRecordBytes: 100, SkipBad: true})
	if err != nil {
		t.Fatal(err)
	}
	revs, err := readAllReviews(r)
	if err != nil {
		t.Fatal(err)
	}
	if len(revs) != 2 || revs[1].Line != 3 || r.Stats().Skipped[ReasonTooLong] != 1 {
		t.Fatalf("reviews %v stats %+v", revs, r.Stats())
	}
}

// TestRealFiles reads the shared real data and checks the published counts.
func TestRealFiles(t *testing.T) {
	cases := []struct {
		rel       string
		n, neg    int
		comp      string
		firstText string
	}{
		{"amazon_polarity/train.ft.txt", 5099, 2573, CompressionPlain, "I haven't buy this, but...: In flames"},
		{"imdb/train.ft.txt.gz", 24903, 12431, CompressionGzip, "Unfortunately, Jean Eustache"},
	}
	for _, c := range cases {
		t.Run(c.rel, func(t *testing.T) {
			r := openReal(t, c.rel)
			defer r.Close()
			revs, err := readAllReviews(r)
			if err != nil {
				t.Fatal(err)
			}
			neg := 0
			for _, rv := range revs {
				if rv.Label == Negative {
					neg++
				}
			}
			st := r.Stats()
			if len(revs) != c.n || neg != c.neg || st.Kept != int64(c.n) || st.Records != int64(c.n) || r.Compression() != c.comp ||
				r.Format() != FormatFastText || !strings.HasPrefix(revs[0].Text, c.firstText) {
				t.Fatalf("%d reviews (%d negative), stats %+v, %s %s, first %.40q", len(revs), neg, st, r.Compression(), r.Format(), revs[0].Text)
			}
			if done, total := r.Progress(); done != total || total <= 0 {
				t.Fatalf("progress %d/%d at the end", done, total)
			}
		})
	}
}

// syntheticReviews makes Amazon-shaped "title: body" texts, mixed case,
// with punctuation and contractions, about 430 bytes on average like the
// real set.
func syntheticReviews(n int, seed int64) []string {
	rng := rand.New(rand.NewSource(seed))
	words := strings.Fields("the a and I it this to of was is for in that my with not but book great product " +
		"good don't can't it's I'm very would one time well quality price work love money movie CD " +
		"buy recommend better really didn't bad waste read story music first use excellent disappointed")
	punct := []string{"", "", "", "", ",", ".", "!", "...", "?"}
	out := make([]string, n)
	var b strings.Builder
	for i := range out {
		b.Reset()
		for k := 0; k < 2+rng.Intn(5); k++ {
			if k > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(words[rng.Intn(len(words))])
		}
		b.WriteString(": ")
		for k, nw := 0, 20+rng.Intn(120); k < nw; k++ {
			if k > 0 {
				b.WriteByte(' ')
			}
			w := words[rng.Intn(len(words))]
			if rng.Intn(12) == 0 {
				w = strings.ToUpper(w[:1]) + w[1:]
			}
			b.WriteString(w)
			b.WriteString(punct[rng.Intn(len(punct))])
		}
		out[i] = b.String()
	}
	return out
}

func syntheticFastText(n int, seed int64) []byte {
	var b bytes.Buffer
	for i, s := range syntheticReviews(n, seed) {
		fmt.Fprintf(&b, "__label__%d %s\n", 1+i%2, s)
	}
	return b.Bytes()
}

func BenchmarkReaderFastText(b *testing.B) {
	in := syntheticFastText(20000, 3)
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		r, err := openReader("bench", bytes.NewReader(in), int64(len(in)), nil, ReaderOptions{})
		if err != nil {
			b.Fatal(err)
		}
		for {
			_, err := r.NextChunk()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkReaderGzip is the fastText benchmark on gzip input; MB/s count
// the decompressed bytes.
func BenchmarkReaderGzip(b *testing.B) {
	in := syntheticFastText(20000, 3)
	gz := gzipFixture(b, in)
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		r, err := openReader("bench.gz", bytes.NewReader(gz), int64(len(gz)), nil, ReaderOptions{})
		if err != nil {
			b.Fatal(err)
		}
		for {
			_, err := r.NextChunk()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
		}
	}
}

func BenchmarkReaderCSV(b *testing.B) {
	var buf bytes.Buffer
	for i, s := range syntheticReviews(20000, 3) {
		title, body, _ := strings.Cut(s, ": ")
		fmt.Fprintf(&buf, "\"%d\",\"%s\",\"%s\"\n", 1+i%2, strings.ReplaceAll(title, `"`, `""`), strings.ReplaceAll(body, `"`, `""`))
	}
	in := buf.Bytes()
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		r, err := openReader("bench", bytes.NewReader(in), int64(len(in)), nil, ReaderOptions{})
		if err != nil {
			b.Fatal(err)
		}
		for {
			_, err := r.NextChunk()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
		}
	}
}

func ExampleOpen() {
	r, err := Open("testdata/reviews.ft.txt.bz2", ReaderOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer r.Close()
	fmt.Println(r.Format(), r.Compression())
	for {
		c, err := r.NextChunk()
		if err == io.EOF {
			break
		}
		if err != nil {
			fmt.Println(err)
			return
		}
		for _, rv := range c.Reviews {
			fmt.Printf("line %d label %d: %.29s\n", rv.Line, rv.Label, rv.Text)
		}
	}
	st := r.Stats()
	fmt.Printf("%d kept, %d blank lines\n", st.Kept, st.Blank)
	// Output:
	// fasttext bzip2
	// line 1 label 1: Works well: Sturdy, cheap and
	// line 2 label 0: Broke in a week: The hinge sn
	// line 4 label 1: Great gift: My nephew loves i
	// 3 kept, 1 blank lines
}

// TestReaderDigest: the digest is of the raw bytes as read, compressed or
// not, and covers the whole input once it is read to the end.
func TestReaderDigest(t *testing.T) {
	plain := []byte("__label__1 bad\n__label__2 good\n")
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(plain)
	zw.Close()
	for _, c := range []struct {
		name string
		raw  []byte
	}{{"plain.txt", plain}, {"text.gz", gz.Bytes()}} {
		path := filepath.Join(t.TempDir(), c.name)
		if err := os.WriteFile(path, c.raw, 0o644); err != nil {
			t.Fatal(err)
		}
		r, err := Open(path, ReaderOptions{})
		if err != nil {
			t.Fatal(err)
		}
		rs := &oneByOne{r: r}
		for {
			if _, err := rs.Next(); err == io.EOF {
				break
			} else if err != nil {
				t.Fatal(err)
			}
		}
		sum := xxh3.Hash128(c.raw).Bytes()
		if want := "xxh3-128:" + hex.EncodeToString(sum[:]); r.Digest() != want {
			t.Errorf("%s: digest %s, want %s", c.name, r.Digest(), want)
		}
		r.Close()
	}
}

// TestSkipBadCountsEveryRow: an unterminated quote in row 4 of 10 costs
// row 4 alone; the row its quote runs into is read, so every row is in
// the counts (10 read = 9 kept + 1 skipped).
func TestSkipBadCountsEveryRow(t *testing.T) {
	var b strings.Builder
	for i := 1; i <= 10; i++ {
		if i == 4 {
			fmt.Fprintf(&b, "\"1\",\"title %d\",\"body never closed\n", i)
			continue
		}
		fmt.Fprintf(&b, "\"%d\",\"title %d\",\"body %d\"\n", 1+i%2, i, i)
	}
	path := filepath.Join(t.TempDir(), "rows.csv")
	os.WriteFile(path, []byte(b.String()), 0o644)
	r, err := Open(path, ReaderOptions{SkipBad: true})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for {
		if _, err := (&oneByOne{r: r}).Next(); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
	}
	st := r.Stats()
	if st.Records != 10 || st.Kept != 9 || st.Skipped[ReasonCSVQuote] != 1 || st.Kept+st.SkippedTotal() != st.Records {
		t.Fatalf("read %d, kept %d, skipped %v; want 10 read, 9 kept, 1 csv_quote", st.Records, st.Kept, st.Skipped)
	}
}

// TestCROnlyLineEndings: a file whose lines end in CR alone (classic Mac)
// reads as one review per line, in fastText and CSV, across buffer refills;
// a CR inside a file that has line feeds stays text.
func TestCROnlyLineEndings(t *testing.T) {
	var ft, csv strings.Builder
	for i := 0; i < 20; i++ {
		fmt.Fprintf(&ft, "__label__%d review number %d\r", 1+i%2, i)
		fmt.Fprintf(&csv, "\"%d\",\"title %d\",\"body %d\"\r", 1+i%2, i, i)
	}
	for name, in := range map[string]string{"fasttext": ft.String(), "csv": csv.String()} {
		r, err := openReader(name, strings.NewReader(in), -1, nil, ReaderOptions{bufBytes: 64, MaxRecordBytes: 40})
		if err != nil {
			t.Fatal(err)
		}
		revs, err := readAllReviews(r)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(revs) != 20 || revs[19].Line != 20 || !strings.HasSuffix(revs[19].Text, "19") {
			t.Fatalf("%s: %d reviews, last %+v; want 20", name, len(revs), revs[len(revs)-1])
		}
	}
	r, err := openReader("mixed", strings.NewReader("__label__1 one\rstill one\n__label__2 two\n"), -1, nil, ReaderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	revs, err := readAllReviews(r)
	if err != nil || len(revs) != 2 || revs[0].Text != "one\rstill one" {
		t.Fatalf("mixed: %+v %v", revs, err)
	}
}

// oneByOne reads a Reader one review at a time, as most tests want.
type oneByOne struct {
	r *Reader
	c *Chunk
	i int
}

// Next returns the next review, io.EOF at the end.
func (o *oneByOne) Next() (Review, error) {
	for o.c == nil || o.i >= len(o.c.Reviews) {
		c, err := o.r.NextChunk()
		if err != nil {
			o.c = nil
			return Review{}, err
		}
		o.c, o.i = c, 0
	}
	o.i++
	return o.c.Reviews[o.i-1], nil
}

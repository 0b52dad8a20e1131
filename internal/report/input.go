package report

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"trainer/data"
)

// Input formats the report reads.
const (
	FormatCSV      = "csv"      // comma-separated with a header row naming the columns
	FormatJSONL    = "jsonl"    // one JSON object per line (McAuley/UCSD Amazon reviews)
	FormatFastText = "fasttext" // "__label__N text" per line: no time, no product
)

// Reasons a review is skipped (not scored) or left out of a table, the keys
// of Report.Skipped and Report.Incomplete.
const (
	ReasonNoText    = "no_text"    // no review text: not scored
	ReasonBadRecord = "bad_record" // an unparsable JSON line or a CSV row with the wrong field count: not scored
	ReasonNoTime    = "no_time"    // empty time: left out of by_period and alerts
	ReasonBadTime   = "bad_time"   // a time that does not parse: left out of by_period and alerts
	ReasonNoGroup   = "no_group"   // empty product: left out of by_group and alerts
	ReasonBadRating = "bad_rating" // a rating that is not a number from 1 to 5: left out of rating_agreement
)

// maxLineBytes bounds one JSON or fastText line; a longer one is an error
// naming its line rather than an unbounded allocation.
const maxLineBytes = 16 << 20

// Columns names the input columns (CSV header names or JSON keys) to use;
// an empty field is recognised from the usual names. Text may list several
// columns separated by commas, joined with a space (title, then body).
type Columns struct {
	Text   string `json:"text"`
	Time   string `json:"time,omitempty"`
	Group  string `json:"group,omitempty"`
	Rating string `json:"rating,omitempty"`
}

// Column names recognised without flags, compared after lower-casing and
// dropping '_', '-' and spaces; earlier names win. The text is the title
// (if any) followed by the body, as in training.
var (
	titleNames  = []string{"summary", "title", "reviewtitle", "headline"}
	bodyNames   = []string{"text", "reviewtext", "reviewbody", "body", "review", "content"}
	timeNames   = []string{"time", "unixreviewtime", "timestamp", "reviewtime", "date", "reviewdate", "createdat"}
	groupNames  = []string{"parentasin", "asin", "productid", "product", "itemid", "sku"}
	ratingNames = []string{"score", "overall", "rating", "stars", "starrating"}
)

func normName(s string) string {
	return strings.Map(func(r rune) rune {
		switch r {
		case '_', '-', ' ', '\ufeff':
			return -1
		}
		return r
	}, strings.ToLower(strings.TrimSpace(s)))
}

// Record is one review as read: the fields the report uses, and why any of
// them is missing.
type Record struct {
	Line      int64  // 1-based line where the record starts
	Text      string // title and body; "" when the record has none
	Group     string // product id; "" when missing
	Time      int64  // Unix seconds, valid when TimeOK
	TimeOK    bool
	Stance    int8     // -1 rating 1-2 (or fastText label 1), 0 rating 3, +1 rating 4-5 (or label 2)
	Rating    float64  // the star rating, 0 when none (fastText labels give a stance only)
	HasRating bool     // a stance is known
	Skip      string   // reason the record is not scored, "" when it is
	Missing   []string // reasons it is left out of some tables (ReasonNoTime, ...)
}

// Input reads review records from one file or stdin.
type Input struct {
	Name     string
	Format   string
	Used     Columns // the columns in use, as named in the input ("" when absent)
	closer   io.Closer
	raw      *counter
	total    int64
	next     func() (Record, error)
	timeFmt  string // the layout found on the first time value
	timeSeen bool
	// only, when set, names the lines whose records are wanted: the
	// line-based formats (JSON lines, fastText) skip others unparsed.
	only func(line int64) bool
}

// counter counts the raw bytes read, for progress.
type counter struct {
	r io.Reader
	n atomic.Int64
}

func (c *counter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// OpenInput opens path ("-" for stdin), detects its compression and format
// from the content and resolves the columns. A CSV without a recognisable
// header and a column named in cols that the input lacks are errors.
func OpenInput(path string, cols Columns) (*Input, error) {
	return openInput(path, path, cols)
}

// openInput is OpenInput with the name errors give the input.
func openInput(path, name string, cols Columns) (*Input, error) {
	var f io.ReadCloser
	total := int64(-1)
	if path == "-" {
		f, name = io.NopCloser(os.Stdin), "stdin"
	} else {
		fi, err := os.Stat(path)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil, fmt.Errorf("read %s: %w", path, fs.ErrNotExist)
			}
			return nil, fmt.Errorf("read %s: %w", path, err)
		}
		if fi.IsDir() {
			return nil, fmt.Errorf("read %s: %w", path, data.ErrIsDir)
		}
		if fi.Mode().IsRegular() {
			total = fi.Size()
		}
		if f, err = os.Open(path); err != nil {
			return nil, fmt.Errorf("read %s: %w", path, err)
		}
	}
	in := &Input{Name: name, closer: f, total: total}
	in.raw = &counter{r: f}
	src, _, err := data.Decompress(in.raw)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	br := bufio.NewReaderSize(src, 1<<20)
	if err := in.detect(br, cols); err != nil {
		f.Close()
		return nil, err
	}
	return in, nil
}

// Progress returns the raw bytes read so far and the input's size, -1 when
// unknown.
func (in *Input) Progress() (done, total int64) { return in.raw.n.Load(), in.total }

// Close releases the input.
func (in *Input) Close() error { return in.closer.Close() }

// Next returns the next record, io.EOF at the end.
func (in *Input) Next() (Record, error) { return in.next() }

func (in *Input) detect(br *bufio.Reader, cols Columns) error {
	if b, _ := br.Peek(3); bytes.Equal(b, []byte{0xEF, 0xBB, 0xBF}) {
		br.Discard(3)
	}
	head, err := br.Peek(64)
	if len(head) == 0 {
		if err != nil && err != io.EOF {
			return fmt.Errorf("read %s: %w", in.Name, err)
		}
		return fmt.Errorf("read %s: %w", in.Name, data.ErrEmpty)
	}
	first := bytes.TrimLeft(head, " \t\r\n")
	switch {
	case bytes.HasPrefix(first, []byte("{")):
		in.Format = FormatJSONL
		return in.openJSONL(br, cols)
	case bytes.HasPrefix(first, []byte("__label__")):
		in.Format = FormatFastText
		if cols != (Columns{}) {
			return fmt.Errorf("read %s: fastText lines have no named columns; drop --text-col, --time-col, --group-col and --rating-col", in.Name)
		}
		in.openFastText(br)
		return nil
	}
	in.Format = FormatCSV
	return in.openCSV(br, cols)
}

// resolve picks the columns from the names the input offers. When a name
// is given, it must exist; otherwise the first recognised name wins. A
// missing text column is an error: there would be nothing to score.
func (in *Input) resolve(names []string, cols Columns) ([]int, error) {
	index := map[string]int{}
	for i, n := range names {
		if _, dup := index[normName(n)]; !dup {
			index[normName(n)] = i
		}
	}
	exact := map[string]int{}
	for i, n := range names {
		exact[n] = i
	}
	lookup := func(flag, given string) (int, error) {
		if i, ok := exact[given]; ok {
			return i, nil
		}
		if i, ok := index[normName(given)]; ok {
			return i, nil
		}
		return -1, fmt.Errorf("read %s: %s %q: no such column; the input has %s", in.Name, flag, given, strings.Join(quoteAll(names), ", "))
	}
	find := func(cands []string) int {
		for _, c := range cands {
			if i, ok := index[c]; ok {
				return i
			}
		}
		return -1
	}
	var text []int
	if cols.Text != "" {
		for _, c := range strings.Split(cols.Text, ",") {
			i, err := lookup("--text-col", strings.TrimSpace(c))
			if err != nil {
				return nil, err
			}
			text = append(text, i)
		}
	} else {
		if i := find(titleNames); i >= 0 {
			text = append(text, i)
		}
		if i := find(bodyNames); i >= 0 {
			text = append(text, i)
		}
		if len(text) == 0 {
			shown := names
			if len(shown) > 12 {
				shown = append(shown[:12:12], "...")
			}
			return nil, fmt.Errorf("read %s line 1: no text column among %s: the first row must be a header naming the columns (a body such as text, reviewText, body or review, and optionally a title such as summary or title), or name it with --text-col",
				in.Name, strings.Join(quoteAll(shown), ", "))
		}
	}
	pick := func(flag, given string, cands []string) (int, error) {
		if given != "" {
			return lookup(flag, given)
		}
		return find(cands), nil
	}
	tm, err := pick("--time-col", cols.Time, timeNames)
	if err != nil {
		return nil, err
	}
	gr, err := pick("--group-col", cols.Group, groupNames)
	if err != nil {
		return nil, err
	}
	ra, err := pick("--rating-col", cols.Rating, ratingNames)
	if err != nil {
		return nil, err
	}
	var used []string
	for _, i := range text {
		used = append(used, names[i])
	}
	in.Used.Text = strings.Join(used, ",")
	nameOf := func(i int) string {
		if i < 0 {
			return ""
		}
		return names[i]
	}
	in.Used.Time, in.Used.Group, in.Used.Rating = nameOf(tm), nameOf(gr), nameOf(ra)
	return append([]int{tm, gr, ra}, text...), nil
}

func quoteAll(s []string) []string {
	q := make([]string, len(s))
	for i, x := range s {
		q[i] = strconv.Quote(x)
	}
	return q
}

func (in *Input) openCSV(br *bufio.Reader, cols Columns) error {
	cr := csv.NewReader(br)
	cr.FieldsPerRecord = -1
	cr.LazyQuotes = true
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err != nil {
		return fmt.Errorf("read %s line 1: header: %w", in.Name, err)
	}
	header = append([]string(nil), header...)
	idx, err := in.resolve(header, cols)
	if err != nil {
		return err
	}
	in.next = func() (Record, error) {
		row, err := cr.Read()
		if err != nil {
			if err == io.EOF {
				return Record{}, io.EOF
			}
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				if pe.Err == csv.ErrFieldCount {
					return Record{Line: int64(pe.StartLine), Skip: ReasonBadRecord}, nil
				}
				return Record{}, fmt.Errorf("read %s line %d: %w", in.Name, pe.StartLine, pe.Err)
			}
			return Record{}, fmt.Errorf("read %s: %w", in.Name, err)
		}
		line, _ := cr.FieldPos(0)
		if len(row) != len(header) {
			return Record{Line: int64(line), Skip: ReasonBadRecord}, nil
		}
		get := func(i int) (string, bool) {
			if i < 0 {
				return "", false
			}
			return row[i], true
		}
		return in.record(int64(line), get, idx)
	}
	return nil
}

func (in *Input) openJSONL(br *bufio.Reader, cols Columns) error {
	sc := bufio.NewScanner(br)
	sc.Buffer(make([]byte, 0, 1<<16), maxLineBytes)
	var line int64
	var obj map[string]json.RawMessage
	// The first object's keys name the columns.
	var firstLine []byte
	for sc.Scan() {
		line++
		if len(bytes.TrimSpace(sc.Bytes())) > 0 {
			firstLine = append([]byte(nil), sc.Bytes()...)
			break
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read %s line %d: %w", in.Name, line+1, err)
	}
	if err := json.Unmarshal(firstLine, &obj); err != nil {
		return fmt.Errorf("read %s line %d: not a JSON object: %v", in.Name, line, err)
	}
	var names []string
	dec := json.NewDecoder(bytes.NewReader(firstLine))
	dec.Token() // '{': keys in their order, for stable messages
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			break
		}
		if s, ok := k.(string); ok {
			names = append(names, s)
		}
		var skip json.RawMessage
		if dec.Decode(&skip) != nil {
			break
		}
	}
	idx, err := in.resolve(names, cols)
	if err != nil {
		return err
	}
	pending := firstLine
	firstNo := line
	in.next = func() (Record, error) {
		var b []byte
		var no int64
		if pending != nil {
			b, no, pending = pending, firstNo, nil
		} else {
			for {
				if !sc.Scan() {
					if err := sc.Err(); err != nil {
						return Record{}, fmt.Errorf("read %s line %d: %w", in.Name, line+1, err)
					}
					return Record{}, io.EOF
				}
				line++
				if in.only != nil && !in.only(line) {
					continue
				}
				if len(bytes.TrimSpace(sc.Bytes())) > 0 {
					break
				}
			}
			b, no = sc.Bytes(), line
		}
		clear(obj)
		if err := json.Unmarshal(b, &obj); err != nil {
			return Record{Line: no, Skip: ReasonBadRecord}, nil
		}
		get := func(i int) (string, bool) {
			if i < 0 {
				return "", false
			}
			raw, ok := obj[names[i]]
			if !ok {
				return "", false
			}
			return jsonString(raw), true
		}
		return in.record(no, get, idx)
	}
	return nil
}

// jsonString turns a JSON value into the text the report parses: a
// string's contents, a number's digits, "" for null.
func jsonString(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	if raw[0] == '"' {
		var s string
		if json.Unmarshal(raw, &s) == nil {
			return s
		}
	}
	return string(raw)
}

func (in *Input) openFastText(br *bufio.Reader) {
	sc := bufio.NewScanner(br)
	sc.Buffer(make([]byte, 0, 1<<16), maxLineBytes)
	var line int64
	in.Used = Columns{Text: "text", Rating: "label"}
	in.next = func() (Record, error) {
		for {
			if !sc.Scan() {
				if err := sc.Err(); err != nil {
					return Record{}, fmt.Errorf("read %s line %d: %w", in.Name, line+1, err)
				}
				return Record{}, io.EOF
			}
			line++
			if in.only != nil && !in.only(line) {
				continue
			}
			s := strings.TrimRight(sc.Text(), "\r")
			if strings.TrimSpace(s) == "" {
				continue
			}
			rec := Record{Line: line}
			if strings.HasPrefix(s, "__label__") {
				label, text, _ := strings.Cut(s[len("__label__"):], " ")
				s = text
				switch label {
				case "1":
					rec.Stance, rec.HasRating = -1, true
				case "2":
					rec.Stance, rec.HasRating = 1, true
				default:
					rec.Missing = append(rec.Missing, ReasonBadRating)
				}
			}
			rec.Text = cleanText(s)
			if rec.Text == "" {
				rec.Skip = ReasonNoText
			}
			return rec, nil
		}
	}
}

// cleanText trims the text and repairs invalid UTF-8, which the tokenizer
// would otherwise see as unknown bytes.
func cleanText(s string) string {
	s = strings.TrimSpace(s)
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, " ")
	}
	return s
}

// record builds a Record from one row; get reads a column by position in
// idx (time, group, rating, then the text columns).
func (in *Input) record(line int64, get func(int) (string, bool), idx []int) (Record, error) {
	rec := Record{Line: line}
	var parts []string
	for _, i := range idx[3:] {
		if s, _ := get(i); strings.TrimSpace(s) != "" {
			parts = append(parts, strings.TrimSpace(s))
		}
	}
	rec.Text = cleanText(strings.Join(parts, " "))
	if rec.Text == "" {
		rec.Skip = ReasonNoText
		return rec, nil
	}
	if idx[0] >= 0 {
		s, _ := get(idx[0])
		s = strings.TrimSpace(s)
		switch {
		case s == "":
			rec.Missing = append(rec.Missing, ReasonNoTime)
		default:
			t, err := in.parseTime(s)
			if err != nil {
				return Record{}, fmt.Errorf("read %s line %d: column %q: %w", in.Name, line, in.Used.Time, err)
			}
			if t, ok := t.(int64); ok {
				rec.Time, rec.TimeOK = t, true
			} else {
				rec.Missing = append(rec.Missing, ReasonBadTime)
			}
		}
	}
	if idx[1] >= 0 {
		s, _ := get(idx[1])
		rec.Group = strings.TrimSpace(s)
		if rec.Group == "" {
			rec.Missing = append(rec.Missing, ReasonNoGroup)
		}
	}
	if idx[2] >= 0 {
		s, _ := get(idx[2])
		if r, err := strconv.ParseFloat(strings.TrimSpace(s), 64); err == nil && r >= 1 && r <= 5 {
			rec.Rating, rec.HasRating = r, true
			switch {
			case r < 2.5:
				rec.Stance = -1
			case r > 3.5:
				rec.Stance = 1
			}
		} else {
			rec.Missing = append(rec.Missing, ReasonBadRating)
		}
	}
	return rec, nil
}

// timeLayouts are the time formats recognised in a time column, besides
// Unix seconds and milliseconds. The first value decides the layout; a
// later value that fits no layout is counted as bad_time.
var timeLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05",
	"2006-01-02 15:04:05",
	"2006-01-02",
	"01 2, 2006", // McAuley 2014 "reviewTime"
	"2006/01/02",
	"January 2, 2006",
	"Jan 2, 2006",
}

const layoutUnix = "unix"

// parseTime returns the time as Unix seconds (int64), or nil for a value
// that does not parse once the column's format is known. The first value
// that fits no known format is an error, since then no value will.
func (in *Input) parseTime(s string) (any, error) {
	if t, ok := parseUnix(s); ok {
		if !in.timeSeen {
			in.timeSeen, in.timeFmt = true, layoutUnix
		}
		return t, nil
	}
	if in.timeSeen && in.timeFmt != layoutUnix {
		if t, err := time.Parse(in.timeFmt, s); err == nil {
			return t.Unix(), nil
		}
	}
	for _, l := range timeLayouts {
		if t, err := time.Parse(l, s); err == nil {
			if !in.timeSeen {
				in.timeSeen, in.timeFmt = true, l
			}
			return t.Unix(), nil
		}
	}
	if !in.timeSeen {
		return nil, fmt.Errorf("%q is not a time in a format I know (Unix seconds or milliseconds, RFC 3339, YYYY-MM-DD, \"MM D, YYYY\"); name another column with --time-col", s)
	}
	return nil, nil
}

// parseUnix reads Unix seconds, or milliseconds when the number is too
// large to be seconds (after the year 5138), as the 2023 McAuley release
// writes them.
func parseUnix(s string) (int64, bool) {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f < 0 || s[0] < '0' || s[0] > '9' {
		return 0, false
	}
	if f >= 1e11 {
		f /= 1000
	}
	return int64(f), true
}

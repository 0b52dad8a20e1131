package report

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// lexicon scores a review negative when it holds a complaint word; it
// stands in for a model whose answers the test knows.
type lexicon struct{ calls int }

func (l *lexicon) Score(texts []string) ([]float64, error) {
	l.calls++
	p := make([]float64, len(texts))
	for i, t := range texts {
		p[i] = 0.9
		for _, w := range []string{"awful", "broken", "stale"} {
			if strings.Contains(strings.ToLower(t), w) {
				p[i] = 0.1
			}
		}
	}
	return p, nil
}

func writeFile(t *testing.T, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func gz(b []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

const fineFoodCSV = "Id,ProductId,UserId,ProfileName,HelpfulnessNumerator,HelpfulnessDenominator,Score,Time,Summary,Text\r\n" +
	`1,B001,U1,"Smith, J",0,0,5,1268179200,Great cookies,"Crunchy, sweet, ""real"" cookies."` + "\r\n" +
	`2,B001,U2,Ann,1,1,1,1298937600,Awful,"Arrived broken
and stale."` + "\r\n" +
	`3,B002,U3,Bob,0,0,3,1298937600,Fine,` + "\r\n" + // summary only: still text
	`4,B002,U4,Cy,0,0,4,1298937600,,` + "\r\n" + // no text
	`5,,U5,Di,0,0,2,1301616000,Meh,awful taste` + "\r\n" + // no product
	`6,B003,U6,Ed,0,0,5,,Nice,lovely` + "\r\n" + // no time
	`7,B003,U7,Fa,0,0,x,1301616000,Nice,lovely` + "\r\n" + // bad rating
	`8,B003,U8,Gi,0,0,5,yesterday,Nice,lovely` + "\r\n" + // bad time after a good one
	`9,B003,U9` + "\r\n" // wrong field count

func TestBuildInputs(t *testing.T) {
	jsonl2014 := `{"reviewerID":"A1","asin":"X1","overall":5.0,"unixReviewTime":1622505600,"reviewTime":"06 1, 2021","summary":"Love it","reviewText":"works"}
{"reviewerID":"A2","asin":"X1","overall":1.0,"unixReviewTime":1625097600,"summary":"Broken","reviewText":"awful"}

{"reviewerID":"A3","asin":"X2","overall":4.0,"unixReviewTime":1625097600,"summary":"ok","reviewText":null}
not json
`
	jsonl2023 := `{"rating":2.0,"title":"stale","text":"old","asin":"C1","parent_asin":"PA","timestamp":1625097600123}
{"rating":5.0,"title":"good","text":"fresh","asin":"C2","parent_asin":"PA","timestamp":1622505600000}
`
	fast := "__label__2 Not stale at all\n__label__1 Awful: broken on arrival\n__label__2 Great: love it\n\n__label__2 Nice\n__label__7 odd label\n__label__1 \n"
	cases := []struct {
		name, file string
		body       []byte
		cols       Columns
		want       Report // the counts and columns to compare
		periods    []string
		groups     map[string][2]int64 // reviews, negative
		ratedAgree float64
	}{
		{"fine food csv", "reviews.csv", []byte(fineFoodCSV), Columns{},
			Report{Format: FormatCSV, Reviews: 9, Scored: 7,
				Skipped:    map[string]int64{ReasonNoText: 1, ReasonBadRecord: 1},
				Incomplete: map[string]int64{ReasonNoGroup: 1, ReasonNoTime: 1, ReasonBadTime: 1, ReasonBadRating: 1},
				Columns:    Columns{Text: "Summary,Text", Time: "Time", Group: "ProductId", Rating: "Score"}},
			[]string{"2010-03", "2011-03", "2011-04"},
			map[string][2]int64{"B001": {2, 1}, "B002": {1, 0}, "B003": {3, 0}}, 1},
		{"mcauley 2014 jsonl, gzip", "r.json.gz", gz([]byte(jsonl2014)), Columns{},
			Report{Format: FormatJSONL, Reviews: 4, Scored: 3,
				Skipped:    map[string]int64{ReasonBadRecord: 1},
				Incomplete: map[string]int64{},
				Columns:    Columns{Text: "summary,reviewText", Time: "unixReviewTime", Group: "asin", Rating: "overall"}},
			[]string{"2021-06", "2021-07"},
			map[string][2]int64{"X1": {2, 1}, "X2": {1, 0}}, 1},
		{"mcauley 2023 jsonl, milliseconds, parent product", "r.jsonl", []byte(jsonl2023), Columns{},
			Report{Format: FormatJSONL, Reviews: 2, Scored: 2, Skipped: map[string]int64{}, Incomplete: map[string]int64{},
				Columns: Columns{Text: "title,text", Time: "timestamp", Group: "parent_asin", Rating: "rating"}},
			[]string{"2021-06", "2021-07"},
			map[string][2]int64{"PA": {2, 1}}, 1},
		{"columns named by flags", "reviews.csv", []byte(fineFoodCSV), Columns{Text: "Text", Group: "UserId", Time: "time", Rating: "Score"},
			Report{Format: FormatCSV, Reviews: 9, Scored: 6,
				Skipped:    map[string]int64{ReasonNoText: 2, ReasonBadRecord: 1},
				Incomplete: map[string]int64{ReasonNoTime: 1, ReasonBadTime: 1, ReasonBadRating: 1},
				Columns:    Columns{Text: "Text", Time: "Time", Group: "UserId", Rating: "Score"}},
			[]string{"2010-03", "2011-03", "2011-04"},
			map[string][2]int64{"U1": {1, 0}, "U2": {1, 1}, "U5": {1, 1}, "U6": {1, 0}, "U7": {1, 0}, "U8": {1, 0}}, 1},
		{"fasttext", "r.ft.txt", []byte(fast), Columns{},
			Report{Format: FormatFastText, Reviews: 6, Scored: 5,
				Skipped:    map[string]int64{ReasonNoText: 1},
				Incomplete: map[string]int64{ReasonBadRating: 1},
				Columns:    Columns{Text: "text", Rating: "label"}},
			nil, map[string][2]int64{}, 3.0 / 4},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := writeFile(t, c.file, c.body)
			r, err := Build(context.Background(), path, &lexicon{}, Options{Columns: c.cols, Chunk: 2})
			if err != nil {
				t.Fatal(err)
			}
			if r.Format != c.want.Format || r.Reviews != c.want.Reviews || r.Scored != c.want.Scored || r.Columns != c.want.Columns {
				t.Errorf("format %s reviews %d scored %d columns %+v, want %s %d %d %+v",
					r.Format, r.Reviews, r.Scored, r.Columns, c.want.Format, c.want.Reviews, c.want.Scored, c.want.Columns)
			}
			if fmt.Sprint(r.Skipped) != fmt.Sprint(c.want.Skipped) || fmt.Sprint(r.Incomplete) != fmt.Sprint(c.want.Incomplete) {
				t.Errorf("skipped %v incomplete %v, want %v %v", r.Skipped, r.Incomplete, c.want.Skipped, c.want.Incomplete)
			}
			// Nothing dropped without being counted.
			var skipped int64
			for _, n := range r.Skipped {
				skipped += n
			}
			if r.Scored+skipped != r.Reviews || r.Overall.Reviews != r.Scored {
				t.Errorf("scored %d + skipped %d != read %d (overall %d)", r.Scored, skipped, r.Reviews, r.Overall.Reviews)
			}
			var got []string
			for _, p := range r.ByPeriod {
				got = append(got, p.Period)
			}
			if fmt.Sprint(got) != fmt.Sprint(c.periods) {
				t.Errorf("periods %v, want %v", got, c.periods)
			}
			groups := map[string][2]int64{}
			for _, g := range r.ByGroup {
				groups[g.Group] = [2]int64{g.Reviews, g.Negative}
			}
			if fmt.Sprint(groups) != fmt.Sprint(c.groups) {
				t.Errorf("groups %v, want %v", groups, c.groups)
			}
			if ra := r.RatingAgreement; ra == nil || !near(ra.Agreement, c.ratedAgree, 1e-9) {
				t.Errorf("rating agreement %+v, want %.3f", ra, c.ratedAgree)
			}
		})
	}
}

func TestBuildBadInput(t *testing.T) {
	cases := []struct {
		name string
		body string
		cols Columns
		want []string // substrings of the one-line error
	}{
		{"no header", "1,B001,U1,Ann,0,0,5,1268179200,Great,Crunchy cookies\n", Columns{},
			[]string{"line 1", "no text column", `"B001"`, "--text-col"}},
		{"unknown column", fineFoodCSV, Columns{Group: "Product"},
			[]string{"--group-col", `"Product"`, "no such column", "ProductId"}},
		{"unknown json key", `{"text":"a","asin":"b"}` + "\n", Columns{Time: "date"},
			[]string{"--time-col", `"date"`, "no such column", `"text", "asin"`}},
		{"time in an unknown format", "Text,Time\ngood,13/45/2020\n", Columns{},
			[]string{"line 2", `column "Time"`, `"13/45/2020"`, "not a time in a format"}},
		{"empty", "", Columns{}, []string{"no reviews"}},
		{"only a header", "Text,Time\n", Columns{}, []string{"none with text"}},
		{"labels but columns named", "__label__1 bad\n", Columns{Text: "x"}, []string{"fastText", "--text-col"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := writeFile(t, "in.csv", []byte(c.body))
			_, err := Build(context.Background(), path, &lexicon{}, Options{Columns: c.cols})
			if err == nil {
				t.Fatal("no error")
			}
			msg := err.Error()
			if strings.Contains(msg, "\n") {
				t.Errorf("error spans lines: %q", msg)
			}
			if !strings.Contains(msg, path) {
				t.Errorf("error %q does not name the file", msg)
			}
			for _, w := range c.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q lacks %q", msg, w)
				}
			}
		})
	}
}

func TestWriteFiles(t *testing.T) {
	path := writeFile(t, "reviews.csv", []byte(fineFoodCSV))
	r, err := Build(context.Background(), path, &lexicon{}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	// An alert with an example and terms, to exercise every part of the page.
	r.Alerts = []Alert{{Group: "B001", Period: "2011-03", ReviewsBefore: 40, ReviewsAfter: 50, NegativeShareBefore: 0.1,
		NegativeShareAfter: 0.6, PValue: 1e-6, QValue: 1e-5, Splits: 3,
		Examples: []Example{{Line: 3, Period: "2011-03", PPositive: 0.1, Text: `Arrived <b>broken</b> & "stale"`}},
		Terms:    &Terms{Negative: []Term{{Term: "stale", Score: 3, Count: 9}}},
		ByPeriod: []PeriodShare{{Period: "2011-02", Share: makeShare(4, 40)}, {Period: "2011-03", Share: makeShare(30, 50)}}}}
	dir := filepath.Join(t.TempDir(), "out")
	paths, err := Write(dir, r)
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) != 8 {
		t.Errorf("wrote %v", paths)
	}
	b, err := os.ReadFile(filepath.Join(dir, FileJSON))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"reviews", "scored", "skipped", "overall", "by_period", "by_group", "alerts", "terms", "rating_agreement"} {
		if _, ok := m[k]; !ok {
			t.Errorf("report.json lacks %q", k)
		}
	}
	a := m["alerts"].([]any)[0].(map[string]any)
	for _, k := range []string{"group", "period", "negative_share_before", "negative_share_after", "p_value", "q_value", "examples"} {
		if _, ok := a[k]; !ok {
			t.Errorf("alert lacks %q", k)
		}
	}
	o := m["overall"].(map[string]any)
	if o["reviews"].(float64) != 7 || len(o["ci95"].([]any)) != 2 {
		t.Errorf("overall %v", o)
	}
	page, _ := os.ReadFile(filepath.Join(dir, FileHTML))
	html := string(page)
	for _, w := range []string{"<svg", `class="spark"`, "B001 from 2011-03", "Arrived &lt;b&gt;broken&lt;/b&gt; &amp; &#34;stale&#34;", "2011-04", "Agreement with the star rating"} {
		if !strings.Contains(html, w) {
			t.Errorf("report.html lacks %q", w)
		}
	}
	for _, bad := range []string{"<script", "src=", "href=", "http://", "https://", "url("} {
		if strings.Contains(html, bad) {
			t.Errorf("report.html is not self-contained: has %q", bad)
		}
	}
	groups, _ := os.ReadFile(filepath.Join(dir, FileGroups))
	if !strings.HasPrefix(string(groups), "group,reviews,negative,negative_share,ci95_low,ci95_high\nB001,2,1,0.5000,") {
		t.Errorf("by_group.csv:\n%s", groups)
	}
}

// TestBuildStdin: standard input is read twice through a temporary copy,
// which is removed afterwards, and errors name it stdin.
func TestBuildStdin(t *testing.T) {
	tmp := t.TempDir()
	var lines []string
	lines = append(lines, "ProductId,Time,Text")
	// 40 good reviews in 2021-01, then 40 broken ones: one alert.
	for i := range 80 {
		text := "lovely"
		month := "2021-01-15"
		if i >= 40 {
			text, month = "broken lid", "2021-02-15"
		}
		lines = append(lines, "B1,"+month+","+text)
	}
	r, err := Build(context.Background(), "-", &lexicon{}, Options{Stdin: strings.NewReader(strings.Join(lines, "\n")), TempDir: tmp})
	if err != nil {
		t.Fatal(err)
	}
	if r.Input != "stdin" || r.Scored != 80 || len(r.Alerts) != 1 || r.Alerts[0].Period != "2021-02" || len(r.Alerts[0].Examples) != DefaultExamples {
		t.Fatalf("input %s scored %d alerts %+v", r.Input, r.Scored, r.Alerts)
	}
	if a := r.Alerts[0]; a.Terms == nil || len(a.Terms.Negative) == 0 || a.Examples[0].Text != "broken lid" || a.Examples[0].Line != 42 ||
		len(a.ByPeriod) != 2 || a.ByPeriod[1].Period != "2021-02" || a.ByPeriod[1].NegativeShare != 1 {
		t.Fatalf("alert details %+v", a)
	}
	if left, _ := os.ReadDir(tmp); len(left) != 0 {
		t.Fatalf("left %v in the temporary directory", left)
	}
	_, err = Build(context.Background(), "-", &lexicon{}, Options{Stdin: strings.NewReader("1,2,3\n"), TempDir: tmp})
	if err == nil || !strings.HasPrefix(err.Error(), "read stdin line 1: no text column") {
		t.Fatalf("error %v", err)
	}
}

// TestAlertDetailsJSONL: the second read of JSON lines parses only the
// alerted product's lines and finds the same reviews, with blank and bad
// lines and other products in between.
func TestAlertDetailsJSONL(t *testing.T) {
	var b strings.Builder
	for i := range 200 {
		month, text := "1609804800", "lovely" // 2021-01-05
		if i >= 100 {
			month = "1612483200" // 2021-02-05
			if i%2 == 0 {
				text = "broken lid"
			}
		}
		product := "A"
		if i%4 == 3 {
			product = "B"
		}
		fmt.Fprintf(&b, `{"asin":%q,"unixReviewTime":%s,"reviewText":%q}`+"\n", product, month, fmt.Sprint(text, " ", i))
		if i%50 == 7 {
			b.WriteString("\n{not json\n")
		}
	}
	path := writeFile(t, "r.jsonl", []byte(b.String()))
	r, err := Build(context.Background(), path, &lexicon{}, Options{Examples: 2, MinTermCount: 2})
	if err != nil {
		t.Fatal(err)
	}
	if r.Skipped[ReasonBadRecord] != 4 || len(r.Alerts) != 1 {
		t.Fatalf("skipped %v, alerts %+v", r.Skipped, r.Alerts)
	}
	a := r.Alerts[0]
	if a.Group != "A" || a.Period != "2021-02" || len(a.Examples) != 2 || a.Terms == nil || len(a.Terms.Negative) == 0 {
		t.Fatalf("alert %+v", a)
	}
	// The examples are A's first broken reviews from February: 100 and
	// 102 (i%4 != 3), on the lines they were read from.
	for k, want := range []string{"broken lid 100", "broken lid 102"} {
		e := a.Examples[k]
		line := strings.Split(b.String(), "\n")[e.Line-1]
		if e.Text != want || !strings.Contains(line, want) || e.PPositive != 0.1 {
			t.Errorf("example %d: %+v (line %q), want %q", k, e, line, want)
		}
	}
}

package report

import (
	"fmt"
	"html"
	"html/template"
	"io"
	"math"
	"strings"
)

// htmlGroupRows is how many products the HTML table shows; by_group.csv
// has them all.
const htmlGroupRows = 30

// WriteHTML writes the report as one self-contained HTML page: inline CSS
// and SVG, no scripts, no fonts or images fetched, so it opens offline and
// can be mailed as it is.
func WriteHTML(w io.Writer, r *Report) error {
	minReviews := groupTableMin(r.ByGroup)
	var groups []GroupShare
	var shown int64
	for _, g := range r.ByGroup {
		if g.Reviews >= minReviews {
			shown++
			if len(groups) < htmlGroupRows {
				groups = append(groups, g)
			}
		}
	}
	var skipped, incomplete int64
	for _, n := range r.Skipped {
		skipped += n
	}
	for _, n := range r.Incomplete {
		incomplete += n
	}
	page := struct {
		R                  *Report
		Chart              template.HTML
		Groups             []GroupShare
		GroupsShown        int64
		GroupMin           int64
		SkippedTotal       int64
		IncompleteTotal    int64
		Alerts             []Alert
		HasRatings, HasGrp bool
	}{r, timeChart(r), groups, shown, minReviews, skipped, incomplete, r.Alerts, r.RatingAgreement != nil, len(r.ByGroup) > 0}
	return pageTemplate.Execute(w, page)
}

// groupTableMin is the fewest reviews a product needs to be shown in the
// HTML table: the largest of 5, 3 and 2 that at least 10 products reach,
// else 1. A product with one review is 0% or 100% negative and says little.
func groupTableMin(rows []GroupShare) int64 {
	for _, k := range []int64{5, 3, 2} {
		n := 0
		for _, g := range rows {
			if g.Reviews >= k {
				n++
			}
		}
		if n >= 10 {
			return k
		}
	}
	return 1
}

var pageTemplate = template.Must(template.New("report").Funcs(template.FuncMap{
	"pct":   func(x float64) string { return fmt.Sprintf("%.1f%%", 100*x) },
	"pct0":  func(x float64) string { return fmt.Sprintf("%.0f%%", 100*x) },
	"num":   func(x int64) string { return thousands(x) },
	"p":     func(x float64) string { return fmt.Sprintf("%.2g", x) },
	"f2":    func(x float64) string { return fmt.Sprintf("%.2f", x) },
	"add":   func(a, b int64) int64 { return a + b },
	"int64": func(n int) int64 { return int64(n) },
	"bar":   shareBar,
	"spark": alertChart,
	"arrow": func(a Alert) string {
		if a.NegativeShareAfter > a.NegativeShareBefore {
			return "worse"
		}
		return "better"
	},
}).Parse(pageHTML))

// shareBar draws a negative share with its interval as a small inline SVG.
func shareBar(s Share) template.HTML {
	const w, h = 160.0, 14.0
	x := func(v float64) float64 { return math.Round(v*w*10) / 10 }
	return template.HTML(fmt.Sprintf(`<svg class="bar" width="%g" height="%g" viewBox="0 0 %g %g" role="img" aria-label="%.1f%% negative">`+
		`<rect width="%g" height="%g" fill="#eef1f4"/><rect width="%g" height="%g" fill="#d9534f"/>`+
		`<line x1="%g" x2="%g" y1="7" y2="7" stroke="#222" stroke-width="1.2"/>`+
		`<line x1="%g" x2="%g" y1="3" y2="11" stroke="#222"/><line x1="%g" x2="%g" y1="3" y2="11" stroke="#222"/></svg>`,
		w, h, w, h, 100*s.NegativeShare, w, h, x(s.NegativeShare), h,
		x(s.CI95[0]), x(s.CI95[1]), x(s.CI95[0]), x(s.CI95[0]), x(s.CI95[1]), x(s.CI95[1])))
}

func thousands(x int64) string {
	s := fmt.Sprint(x)
	if x < 0 {
		return "-" + thousands(-x)
	}
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// alertChart draws one alerted product's negative share per period, the
// shares before and after its change as flat lines, and the change as a
// dashed mark, as a small inline SVG.
func alertChart(a Alert) template.HTML {
	rows := a.ByPeriod
	if len(rows) < 2 {
		return ""
	}
	const W, H = 640.0, 110.0
	const left, right, top, bottom = 36.0, 8.0, 8.0, 22.0
	pw, ph := W-left-right, H-top-bottom
	x := func(i int) float64 { return left + pw*float64(i)/float64(len(rows)-1) }
	y := func(v float64) float64 { return top + ph*(1-v) }
	change := len(rows)
	for i, p := range rows {
		if p.Period == a.Period {
			change = i
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="spark" viewBox="0 0 %g %g" role="img" aria-label="negative share of %s per period">`, W, H, html.EscapeString(a.Group))
	for _, v := range []float64{0, 0.5, 1} {
		fmt.Fprintf(&b, `<line x1="%g" x2="%g" y1="%.1f" y2="%.1f" stroke="#e3e6ea"/><text x="%g" y="%.1f" text-anchor="end" class="ax">%.0f%%</text>`,
			left, W-right, y(v), y(v), left-4, y(v)+4, 100*v)
	}
	if change < len(rows) {
		xc := (x(change-1) + x(change)) / 2
		fmt.Fprintf(&b, `<line x1="%.1f" x2="%.1f" y1="%g" y2="%g" stroke="#555" stroke-dasharray="4 3"/>`, xc, xc, top, H-bottom)
		fmt.Fprintf(&b, `<line x1="%g" x2="%.1f" y1="%.1f" y2="%.1f" stroke="#555" stroke-width="2"/>`, left, xc, y(a.NegativeShareBefore), y(a.NegativeShareBefore))
		fmt.Fprintf(&b, `<line x1="%.1f" x2="%g" y1="%.1f" y2="%.1f" stroke="#555" stroke-width="2"/>`, xc, W-right, y(a.NegativeShareAfter), y(a.NegativeShareAfter))
	}
	var line strings.Builder
	for i, p := range rows {
		fmt.Fprintf(&line, "%.1f,%.1f ", x(i), y(p.NegativeShare))
	}
	fmt.Fprintf(&b, `<polyline points="%s" fill="none" stroke="#c9302c" stroke-width="1.5"/>`, strings.TrimSpace(line.String()))
	fmt.Fprintf(&b, `<text x="%g" y="%g" class="ax">%s</text><text x="%g" y="%g" text-anchor="end" class="ax">%s</text>`,
		left, H-6, html.EscapeString(rows[0].Period), W-right, H-6, html.EscapeString(rows[len(rows)-1].Period))
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// timeChart draws the negative share per period with its 95% band, the
// overall share as a dashed line and the alerts' periods as marks, as an
// inline SVG. Periods are placed by their label order, one step apart.
func timeChart(r *Report) template.HTML {
	rows := r.ByPeriod
	if len(rows) == 0 {
		return ""
	}
	const W, H = 1000.0, 300.0
	const left, right, top, bottom = 48.0, 36.0, 16.0, 48.0
	pw, ph := W-left-right, H-top-bottom
	n := len(rows)
	x := func(i int) float64 {
		if n == 1 {
			return left + pw/2
		}
		return left + pw*float64(i)/float64(n-1)
	}
	y := func(v float64) float64 { return top + ph*(1-v) }
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 %g %g" role="img" aria-label="negative share per %s">`, W, H, html.EscapeString(r.Period))
	// Grid and axis labels.
	for v := 0.0; v <= 1.0001; v += 0.25 {
		fmt.Fprintf(&b, `<line x1="%g" x2="%g" y1="%.1f" y2="%.1f" stroke="#e3e6ea"/>`, left, W-right, y(v), y(v))
		fmt.Fprintf(&b, `<text x="%g" y="%.1f" text-anchor="end" class="ax">%.0f%%</text>`, left-6, y(v)+4, 100*v)
	}
	step := max(1, (n+11)/12)
	for i := 0; i < n; i += step {
		anchor := "middle"
		if x(i) > W-right-40 {
			anchor = "end" // keep the last label inside the chart
		}
		fmt.Fprintf(&b, `<text x="%.1f" y="%g" text-anchor="%s" class="ax">%s</text>`, x(i), H-bottom+18, anchor, html.EscapeString(rows[i].Period))
	}
	// The interval band, then the line and points sized by review count.
	var band strings.Builder
	for i, p := range rows {
		fmt.Fprintf(&band, "%.1f,%.1f ", x(i), y(p.CI95[1]))
	}
	for i := n - 1; i >= 0; i-- {
		fmt.Fprintf(&band, "%.1f,%.1f ", x(i), y(rows[i].CI95[0]))
	}
	fmt.Fprintf(&b, `<polygon points="%s" fill="#d9534f" fill-opacity="0.18" stroke="none"/>`, strings.TrimSpace(band.String()))
	fmt.Fprintf(&b, `<line x1="%g" x2="%g" y1="%.1f" y2="%.1f" stroke="#555" stroke-dasharray="6 4"/>`, left, W-right, y(r.Overall.NegativeShare), y(r.Overall.NegativeShare))
	fmt.Fprintf(&b, `<text x="%g" y="%.1f" text-anchor="end" class="ax">overall %.1f%%</text>`, W-right, y(r.Overall.NegativeShare)-5, 100*r.Overall.NegativeShare)
	var line strings.Builder
	for i, p := range rows {
		fmt.Fprintf(&line, "%.1f,%.1f ", x(i), y(p.NegativeShare))
	}
	fmt.Fprintf(&b, `<polyline points="%s" fill="none" stroke="#c9302c" stroke-width="2"/>`, strings.TrimSpace(line.String()))
	if n <= 200 {
		for i, p := range rows {
			fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="2.5" fill="#c9302c"><title>%s: %.1f%% negative of %d reviews (95%%: %.1f–%.1f%%)</title></circle>`,
				x(i), y(p.NegativeShare), html.EscapeString(p.Period), 100*p.NegativeShare, p.Reviews, 100*p.CI95[0], 100*p.CI95[1])
		}
	}
	fmt.Fprintf(&b, `<text x="%g" y="%g" class="ax">negative share per %s, with its 95%% interval; dashed: overall</text>`, left, H-8, html.EscapeString(r.Period))
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

const pageHTML = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Review report: {{.R.Input}}</title>
<style>
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;color:#1d2228;background:#fff;margin:0}
main{max-width:1080px;margin:0 auto;padding:24px 28px 48px}
h1{font-size:26px;margin:0 0 4px}h2{font-size:19px;margin:34px 0 10px;border-bottom:1px solid #e3e6ea;padding-bottom:4px}
h3{font-size:16px;margin:18px 0 6px}
.sub{color:#5b6470;font-size:13px}
.big{display:flex;gap:28px;align-items:baseline;flex-wrap:wrap;margin:18px 0 6px}
.big .fig{font-size:44px;font-weight:700;color:#c9302c}
.big .fig.pos{color:#2e7d32}
.big div{font-size:14px;color:#3b434d}
.chart{width:100%;height:auto;display:block}
.spark{width:100%;max-width:640px;height:auto;display:block;margin:4px 0}
.ax{font-size:12px;fill:#5b6470}
table{border-collapse:collapse;width:100%;font-size:14px}
th,td{text-align:left;padding:4px 8px;border-bottom:1px solid #eef1f4;vertical-align:middle}
th{font-weight:600;color:#3b434d;background:#f7f8fa}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
.bar{vertical-align:middle}
.alert{border:1px solid #e3e6ea;border-left:5px solid #d9534f;border-radius:4px;padding:10px 14px;margin:12px 0}
.alert.better{border-left-color:#2e7d32}
.alert blockquote{margin:6px 0;padding:6px 10px;background:#f7f8fa;border-radius:3px;font-size:14px}
.alert .pp{color:#5b6470;font-size:12px}
.cols{display:grid;grid-template-columns:1fr 1fr;gap:24px}
.neg{color:#c9302c}.pos{color:#2e7d32}
.note{color:#5b6470;font-size:13px}
</style>
</head>
<body><main>
<h1>What the reviews say</h1>
<div class="sub">{{.R.Input}} ({{.R.Format}}){{with .R.Model}} · model {{.}}{{end}} · text: {{.R.Columns.Text}}{{with .R.Columns.Time}} · time: {{.}}{{end}}{{with .R.Columns.Group}} · product: {{.}}{{end}}{{with .R.Columns.Rating}} · rating: {{.}}{{end}}</div>

<div class="big">
 <span class="fig">{{pct .R.Overall.NegativeShare}}</span>
 <div>of <b>{{num .R.Overall.Reviews}}</b> reviews read as negative<br>95% interval {{pct (index .R.Overall.CI95 0)}}–{{pct (index .R.Overall.CI95 1)}}</div>
</div>
<div class="note">{{num .R.Reviews}} records read, {{num .R.Scored}} scored{{if .SkippedTotal}}, {{num .SkippedTotal}} skipped ({{range $k, $v := .R.Skipped}}{{$k}}: {{num $v}} {{end}}){{end}}{{if .IncompleteTotal}}; left out of some tables: {{range $k, $v := .R.Incomplete}}{{$k}}: {{num $v}} {{end}}{{end}}.</div>

{{if .R.ByPeriod}}
<h2>Sentiment over time</h2>
{{.Chart}}
{{end}}

{{if .HasGrp}}
<h2>Alerts</h2>
{{if .Alerts}}
<p class="note">Products whose negative share changed, split at their change point (two-proportion test, adjusted for the number of splits tried; Benjamini-Hochberg over the {{.R.GroupsTested}} products with enough reviews, FDR {{.R.FDR}}).</p>
{{range .Alerts}}
<div class="alert {{arrow .}}">
<h3>{{.Group}} from {{.Period}}: {{pct .NegativeShareBefore}} → {{pct .NegativeShareAfter}} negative <span class="{{if eq (arrow .) "worse"}}neg{{else}}pos{{end}}">({{arrow .}})</span></h3>
{{spark .}}
<div class="note">{{num .ReviewsBefore}} reviews before, {{num .ReviewsAfter}} from {{.Period}} on · z = {{f2 .Z}} · p = {{p .PValue}} ({{.Splits}} splits tried) · q = {{p .QValue}}</div>
{{range .Examples}}<blockquote>{{.Text}}<div class="pp">{{.Period}}, line {{.Line}}, P(positive) {{f2 .PPositive}}</div></blockquote>{{end}}
{{with .Terms}}{{if .Negative}}<div class="note">Words of its negative reviews since then: {{range $i, $t := .Negative}}{{if lt $i 10}}{{if $i}}, {{end}}<b>{{$t.Term}}</b> ({{$t.Count}}){{end}}{{end}}</div>{{end}}{{end}}
</div>
{{end}}
{{else}}
<p class="note">No product's negative share changed beyond chance. {{num (int64 .R.GroupsTested)}} of {{num (int64 (len .R.ByGroup))}} products had enough reviews before and after some period to be tested (Benjamini-Hochberg, FDR {{.R.FDR}}).</p>
{{end}}

<h2>Products by negative share</h2>
<p class="note">The {{len .Groups}} most negative of {{num .GroupsShown}} products{{if gt .GroupMin 1}} with at least {{.GroupMin}} reviews{{end}}; every product is in by_group.csv.</p>
<table><tr><th>product</th><th class="n">reviews</th><th class="n">negative</th><th class="n">95% interval</th><th></th></tr>
{{range .Groups}}<tr><td>{{.Group}}</td><td class="n">{{num .Reviews}}</td><td class="n">{{pct .NegativeShare}}</td><td class="n">{{pct0 (index .CI95 0)}}–{{pct0 (index .CI95 1)}}</td><td>{{bar .Share}}</td></tr>
{{end}}</table>
{{end}}

<h2>Words that carry the sentiment</h2>
<p class="note">Weighted log-odds with an informative Dirichlet prior (Monroe et al. 2008): z-scores of words and bigrams in reviews predicted negative against those predicted positive; counts are occurrences in each.</p>
<div class="cols">
<div><h3 class="neg">Negative</h3><table><tr><th>term</th><th class="n">z</th><th class="n">in negative</th><th class="n">in positive</th></tr>
{{range .R.Terms.Negative}}<tr><td>{{.Term}}</td><td class="n">{{f2 .Score}}</td><td class="n">{{num .Count}}</td><td class="n">{{num .CountOther}}</td></tr>
{{end}}</table></div>
<div><h3 class="pos">Positive</h3><table><tr><th>term</th><th class="n">z</th><th class="n">in positive</th><th class="n">in negative</th></tr>
{{range .R.Terms.Positive}}<tr><td>{{.Term}}</td><td class="n">{{f2 .Score}}</td><td class="n">{{num .Count}}</td><td class="n">{{num .CountOther}}</td></tr>
{{end}}</table></div>
</div>

{{with .R.RatingAgreement}}
<h2>Agreement with the star rating</h2>
<p>On the {{num (add .NegativeRated.Reviews .PositiveRated.Reviews)}} reviews rated 1-2 or 4-5, the prediction matches the rating for <b>{{pct .Agreement}}</b> (95% interval {{pct (index .AgreementCI95 0)}}–{{pct (index .AgreementCI95 1)}}).</p>
<table><tr><th>rating</th><th class="n">reviews</th><th class="n">predicted negative</th><th class="n">95% interval</th><th></th></tr>
<tr><td>1-2 (negative)</td><td class="n">{{num .NegativeRated.Reviews}}</td><td class="n">{{pct .NegativeRated.NegativeShare}}</td><td class="n">{{pct0 (index .NegativeRated.CI95 0)}}–{{pct0 (index .NegativeRated.CI95 1)}}</td><td>{{bar .NegativeRated}}</td></tr>
<tr><td>3 (reported apart)</td><td class="n">{{num .Neutral.Reviews}}</td><td class="n">{{pct .Neutral.NegativeShare}}</td><td class="n">{{pct0 (index .Neutral.CI95 0)}}–{{pct0 (index .Neutral.CI95 1)}}</td><td>{{bar .Neutral}}</td></tr>
<tr><td>4-5 (positive)</td><td class="n">{{num .PositiveRated.Reviews}}</td><td class="n">{{pct .PositiveRated.NegativeShare}}</td><td class="n">{{pct0 (index .PositiveRated.CI95 0)}}–{{pct0 (index .PositiveRated.CI95 1)}}</td><td>{{bar .PositiveRated}}</td></tr>
{{range .ByStars}}<tr><td>{{.Stars}} stars</td><td class="n">{{num .Reviews}}</td><td class="n">{{pct .NegativeShare}}</td><td class="n">{{pct0 (index .CI95 0)}}–{{pct0 (index .CI95 1)}}</td><td>{{bar .Share}}</td></tr>
{{end}}</table>
{{end}}

<p class="note" style="margin-top:32px">A review counts as negative when the model gives it P(positive) &lt; 0.5. Intervals are 95% Wilson score intervals. Tables in full: report.json and the CSV files beside this page.</p>
</main></body></html>
`

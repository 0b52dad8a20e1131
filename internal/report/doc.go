// Package report answers what a set of reviews says: it reads a review
// export (CSV with a header, JSON lines, or fastText lines), scores every
// review with a model, and aggregates the predictions overall, per period
// and per product, finds the products whose negative share changed, the
// words that carry the complaints, and the agreement with star ratings. It
// writes the result as report.json, one CSV per table and a self-contained
// report.html.
package report

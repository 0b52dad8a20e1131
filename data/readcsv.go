package data

import (
	"bytes"
	"fmt"
	"strings"
	"unicode/utf8"
)

// parseCSV parses one record of Zhang et al.'s CSV from the start of data:
// RFC 4180 fields separated by commas, records ended by LF or CRLF, fields
// optionally in double quotes, where a doubled quote stands for one quote
// and line endings may appear. Inside every field the two-character escape
// `\n` and raw CR and LF characters become spaces, because a review is one
// line of text. A record has 3 fields (label, title, body; the text is
// title + " " + body, or the one that is not empty) or 2 (label, text); the
// first well-formed record fixes which. Fields are trimmed of surrounding
// white space. Quotes inside an unquoted field are kept as they are. A
// first row whose label is a column name ("label", "polarity", ...) is a
// header, counted in ReadStats.Header.
func (r *Reader) parseCSV(data []byte, atEOF bool, rec *record) {
	if len(data) == 0 {
		if atEOF {
			rec.kind = recEnd
		} else {
			rec.kind = recNeedMore
		}
		return
	}
	if c := data[0]; c == '\n' || c == '\r' || c == ' ' || c == '\t' {
		if r.blankCSVLine(data, atEOF, rec) {
			return
		}
	}
	s := r.scratch[:0]
	ends := r.fieldEnds[:0]
	defer func() { r.scratch, r.fieldEnds = s, ends }()
	pos := 0
	var lines int64
	needMore := func(inQuote bool) {
		rec.kind, rec.inQuote = recNeedMore, inQuote
	}
fields:
	for {
		if pos < len(data) && data[pos] == '"' {
			openLine := lines
			pos++
			for {
				j := bytes.IndexByte(data[pos:], '"')
				if j < 0 {
					if !atEOF {
						needMore(true)
						return
					}
					bad(rec, ReasonCSVQuote, fmt.Sprintf("unterminated quote: field %d, opened on line %d, is still open at the end of the input", len(ends)+1, r.line+1+openLine))
					r.resumeAfterLine(data, 0, rec)
					return
				}
				var nl int64
				s, nl = appendCSVText(s, data[pos:pos+j])
				lines += nl
				pos += j + 1
				if pos < len(data) && data[pos] == '"' {
					s = append(s, '"')
					pos++
					continue
				}
				if pos == len(data) && !atEOF {
					needMore(true)
					return
				}
				break
			}
			ends = append(ends, len(s))
			switch {
			case pos == len(data):
				break fields
			case data[pos] == ',':
				pos++
				continue fields
			case data[pos] == '\n':
				pos++
				lines++
				break fields
			case data[pos] == '\r' && pos+1 < len(data) && data[pos+1] == '\n':
				pos += 2
				lines++
				break fields
			case data[pos] == '\r' && pos+1 == len(data) && !atEOF:
				needMore(false)
				return
			default:
				if lines > openLine {
					// The quote ran past its line: most likely it was never
					// closed and paired with a quote of the next record.
					bad(rec, ReasonCSVQuote, fmt.Sprintf("unterminated quote: field %d, opened on line %d, runs on to line %d, where %q follows the quote that would close it",
						len(ends), r.line+1+openLine, r.line+1+lines, data[pos:pos+1]))
				} else {
					bad(rec, ReasonCSVQuote, fmt.Sprintf("unexpected %q after the closing quote of field %d (a quote inside a quoted field must be doubled)", data[pos:pos+1], len(ends)))
				}
				// Skip only the record's first line: the lines after it
				// are read (and counted) as records of their own.
				r.resumeAfterLine(data, 0, rec)
				return
			}
		}
		j := bytes.IndexAny(data[pos:], ",\n")
		if j < 0 {
			if !atEOF {
				needMore(false)
				return
			}
			j = len(data) - pos
		}
		end := pos + j
		field := data[pos:end]
		last := end == len(data) || data[end] == '\n'
		if last && len(field) > 0 && field[len(field)-1] == '\r' {
			field = field[:len(field)-1]
		}
		var nl int64
		s, nl = appendCSVText(s, field)
		lines += nl
		ends = append(ends, len(s))
		if end == len(data) {
			pos = end
			break
		}
		pos = end + 1
		if last {
			lines++
			break
		}
	}
	rec.n, rec.lines = pos, lines
	rec.resume, rec.resumeLines = pos, lines
	r.csvRecord(data[:pos], s, ends, rec)
}

// blankCSVLine reports (and fills rec) when data starts with a line of only
// whitespace.
func (r *Reader) blankCSVLine(data []byte, atEOF bool, rec *record) bool {
	i := bytes.IndexByte(data, '\n')
	line := data
	if i >= 0 {
		line = data[:i]
	} else if !atEOF {
		if isBlank(data) {
			rec.kind = recNeedMore
			return true
		}
		return false
	}
	if !isBlank(line) {
		return false
	}
	rec.kind, rec.n, rec.lines = recBlank, len(line), 1
	if i >= 0 {
		rec.n++
	}
	return true
}

// resumeAfterLine makes a bad record resume after the physical line that
// holds data[at], so that one broken quote costs one record, not the file.
func (r *Reader) resumeAfterLine(data []byte, at int, rec *record) {
	rec.skipToEOL = true
	rec.resume = at
	rec.resumeLines = int64(bytes.Count(data[:at], []byte{'\n'}))
}

// csvRecord checks a complete record (raw bytes, unescaped fields in s
// ending at ends) and fills rec.
func (r *Reader) csvRecord(raw, s []byte, ends []int, rec *record) {
	body := raw
	if n := len(body); n > 0 && body[n-1] == '\n' {
		body = body[:n-1]
	}
	if n := len(body); n > 0 && body[n-1] == '\r' {
		body = body[:n-1]
	}
	if len(body) > r.opts.MaxRecordBytes {
		bad(rec, ReasonTooLong, tooLongMsg(r.opts.MaxRecordBytes))
		return
	}
	nf := len(ends)
	want := r.csvFields
	if (want == 0 && nf != 2 && nf != 3) || (want != 0 && nf != want) {
		w := "3 (label, title, body) or 2 (label, text)"
		if want == 3 {
			w = "3 (label, title, body) like the records before"
		} else if want == 2 {
			w = "2 (label, text) like the records before"
		}
		bad(rec, ReasonCSVFields, fmt.Sprintf("%d CSV fields, want %s", nf, w))
		return
	}
	if !utf8.Valid(raw) {
		bad(rec, ReasonInvalidUTF8, invalidUTF8Msg(body))
		return
	}
	label := bytes.TrimSpace(s[:ends[0]])
	action, ok := r.opts.LabelMap.Lookup(label)
	if !ok {
		if r.stats.Records == 0 && r.stats.Header == 0 && isHeaderLabel(label) {
			rec.kind = recHeader
			return
		}
		if len(label) == 0 {
			bad(rec, ReasonBadLabel, "empty label field")
		} else {
			bad(rec, ReasonBadLabel, fmt.Sprintf("label %q is not in the label map (known: %s)", label, strings.Join(r.opts.LabelMap.Known(), ", ")))
		}
		return
	}
	if want == 0 {
		r.csvFields = nf
	}
	var text, text2 []byte
	if nf == 3 {
		text, text2 = bytes.TrimSpace(s[ends[0]:ends[1]]), bytes.TrimSpace(s[ends[1]:ends[2]])
	} else {
		text = bytes.TrimSpace(s[ends[0]:ends[1]])
	}
	if len(text) == 0 && len(text2) == 0 {
		bad(rec, ReasonMissingText, fmt.Sprintf("label %q but no text", label))
		return
	}
	rec.kind, rec.action, rec.text, rec.text2 = recGood, action, text, text2
}

// isHeaderLabel recognises the label column name of a header row.
func isHeaderLabel(b []byte) bool {
	switch strings.ToLower(string(b)) {
	case "label", "labels", "polarity", "sentiment", "class", "target", "rating", "stars", "score":
		return true
	}
	return false
}

// appendCSVText appends a field's bytes to dst, turning the two-character
// escape `\n` and raw CR and LF into spaces. It returns the raw LFs seen so
// the caller can count lines.
func appendCSVText(dst, b []byte) ([]byte, int64) {
	// Most fields hold none of the three bytes: three vectorised scans
	// beat one byte loop.
	if bytes.IndexByte(b, '\\') < 0 && bytes.IndexByte(b, '\n') < 0 && bytes.IndexByte(b, '\r') < 0 {
		return append(dst, b...), 0
	}
	var lines int64
	start := 0
	for i := 0; i < len(b); i++ {
		c := b[i]
		if c > '\\' || (c != '\\' && c != '\n' && c != '\r') {
			continue
		}
		switch c {
		case '\\':
			if i+1 < len(b) && b[i+1] == 'n' {
				dst = append(dst, b[start:i]...)
				dst = append(dst, ' ')
				i++
				start = i + 1
			}
		case '\n':
			lines++
			fallthrough
		case '\r':
			dst = append(dst, b[start:i]...)
			dst = append(dst, ' ')
			start = i + 1
		}
	}
	return append(dst, b[start:]...), lines
}

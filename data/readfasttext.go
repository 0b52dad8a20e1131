package data

import (
	"bytes"
	"fmt"
	"strings"
	"unicode/utf8"
)

const labelPrefix = "__label__"

// parseFastText parses one fastText line, "__label__<label> <text>", from
// the start of data. The label ends at the first space or tab; the text is
// the rest of the line without its line ending (LF or CRLF), kept as is.
// Lines holding only whitespace are blank, not errors.
func (r *Reader) parseFastText(data []byte, atEOF bool, rec *record) {
	var line []byte
	i := bytes.IndexByte(data, '\n')
	switch {
	case i >= 0:
		line = data[:i]
		rec.n = i + 1
	case !atEOF:
		rec.kind = recNeedMore
		return
	case len(data) == 0:
		rec.kind = recEnd
		return
	default: // last line without a line ending
		line = data
		rec.n = len(data)
	}
	rec.lines = 1
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	rec.resume, rec.resumeLines = rec.n, 1
	if len(line) > r.opts.MaxRecordBytes {
		bad(rec, ReasonTooLong, tooLongMsg(r.opts.MaxRecordBytes))
		return
	}
	if isBlank(line) {
		rec.kind = recBlank
		return
	}
	if !bytes.HasPrefix(line, []byte(labelPrefix)) {
		bad(rec, ReasonMissingLabel, fmt.Sprintf("no label: the line starts with %s, not %q", quotePrefix(line, 20), labelPrefix))
		return
	}
	rest := line[len(labelPrefix):]
	sep := bytes.IndexAny(rest, " \t")
	label, text := rest, []byte(nil)
	if sep >= 0 {
		label, text = rest[:sep], rest[sep+1:]
	}
	if !utf8.Valid(line) {
		bad(rec, ReasonInvalidUTF8, invalidUTF8Msg(line))
		return
	}
	action, ok := r.opts.LabelMap.Lookup(label)
	if !ok {
		if len(label) == 0 {
			bad(rec, ReasonBadLabel, fmt.Sprintf("malformed label %q: nothing after %q", labelPrefix, labelPrefix))
			return
		}
		bad(rec, ReasonBadLabel, fmt.Sprintf("label %q is not in the label map (known: %s)", labelPrefix+string(label), strings.Join(r.opts.LabelMap.Known(), ", ")))
		return
	}
	if isBlank(text) {
		bad(rec, ReasonMissingText, fmt.Sprintf("label %q but no text", labelPrefix+string(label)))
		return
	}
	rec.kind, rec.action, rec.text = recGood, action, text
}

// bad marks rec as a bad record.
func bad(rec *record, reason, msg string) {
	rec.kind, rec.reason, rec.msg = recBad, reason, msg
}

// isBlank reports whether b holds only spaces, tabs and carriage returns.
func isBlank(b []byte) bool {
	for _, c := range b {
		if c != ' ' && c != '\t' && c != '\r' {
			return false
		}
	}
	return true
}

// quotePrefix quotes at most n bytes of b for an error message.
func quotePrefix(b []byte, n int) string {
	if len(b) <= n {
		return fmt.Sprintf("%q", b)
	}
	return fmt.Sprintf("%q...", b[:n])
}

// invalidUTF8Msg locates the first invalid byte of b.
func invalidUTF8Msg(b []byte) string {
	off := 0
	for off < len(b) {
		c, size := utf8.DecodeRune(b[off:])
		if c == utf8.RuneError && size <= 1 {
			break
		}
		off += size
	}
	if off >= len(b) {
		return "invalid UTF-8"
	}
	return fmt.Sprintf("invalid UTF-8: byte 0x%02x at byte offset %d", b[off], off)
}

// StripFastTextLabel returns line without a leading fastText label, read
// as the reader reads training lines: the label ends at the first space or
// tab, and the text is everything after that one separator. A line without
// the "__label__" prefix comes back unchanged; a label with no text gives "".
func StripFastTextLabel(line string) string {
	rest, ok := strings.CutPrefix(line, labelPrefix)
	if !ok {
		return line
	}
	if sep := strings.IndexAny(rest, " \t"); sep >= 0 {
		return rest[sep+1:]
	}
	return ""
}

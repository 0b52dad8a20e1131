package data

import (
	"bufio"
	"fmt"
	"io"
)

// ReadTextLines reads unlabelled reviews from r, one a line, and hands
// them to each in input order, chunk lines at a time (chunk < 1 means 1):
// the reader behind predict and encode, which must see a file's text as
// training saw it. Compression and CR-only line endings are detected from
// the content, as Open detects them, and a leading fastText label is
// dropped (StripFastTextLabel), so labelled files read too. name names r in
// errors. each must not keep the slice it is given: it is reused.
func ReadTextLines(r io.Reader, name string, chunk int, each func(texts []string) error) error {
	chunk = max(chunk, 1)
	r, _, err := Decompress(r)
	if err != nil {
		return fmt.Errorf("read %s: %w", name, err)
	}
	sc := bufio.NewScanner(NormalizeCR(r))
	sc.Buffer(make([]byte, 0, 1<<16), DefaultMaxRecordBytes)
	line := 0
	var texts []string
	for sc.Scan() {
		line++
		texts = append(texts, StripFastTextLabel(sc.Text()))
		if len(texts) == chunk {
			if err := each(texts); err != nil {
				return err
			}
			texts = texts[:0]
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("%s line %d: %w", name, line+1, err)
	}
	if len(texts) == 0 {
		return nil
	}
	return each(texts)
}

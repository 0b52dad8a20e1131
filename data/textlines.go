package data

import (
	"bufio"
	"fmt"
	"io"
	"os"
)

// TextSource is where unlabelled reviews come from: texts given as they
// are (a command's arguments), or a file or stream of one review a line
// read with ReadTextLines. Close it after use.
type TextSource struct {
	Texts []string  // used as given when R is nil
	R     io.Reader // one review a line
	Name  string    // R in messages
	close func() error
}

// OpenTextFile is the source of the file at path, one review a line; the
// error is os.Open's.
func OpenTextFile(path string) (TextSource, error) {
	f, err := os.Open(path)
	if err != nil {
		return TextSource{}, err
	}
	return TextSource{R: f, Name: path, close: f.Close}, nil
}

// Close closes the file OpenTextFile opened; other sources hold nothing
// to close.
func (s TextSource) Close() error {
	if s.close == nil {
		return nil
	}
	return s.close()
}

// Each hands the reviews to each in input order: chunk lines at a time
// from R (ReadTextLines, which reuses the slice), all at once when they
// were given.
func (s TextSource) Each(chunk int, each func(texts []string) error) error {
	if s.R == nil {
		return each(s.Texts)
	}
	return ReadTextLines(s.R, s.Name, chunk, each)
}

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

package data

import "fmt"

// Preprocess holds the text preprocessing settings. They are part of the
// cache key and travel inside the model file, so that prediction cleans
// and tokenizes text exactly as training did.
type Preprocess struct {
	Lowercase     bool   `json:"lowercase"`
	RemoveSpecial bool   `json:"remove_special"` // keep letters, digits, apostrophes inside words
	CollapseSpace bool   `json:"collapse_space"`
	Tokenizer     string `json:"tokenizer"` // "treebank" or "split"
}

// DefaultPreprocess is what the Python reference (torch_lstm.py with its
// default --tokenizer split) does: lowercase, every character other than
// letters, digits and apostrophes becomes a space, split on white space.
// Two deliberate differences are documented on the cleaner (clean.go): letters
// and digits of any script are kept (the reference's [a-z0-9' ] splits
// "café" into "caf"), and apostrophes survive only inside words (the
// reference keeps "'quoted'" with its quotes, a different token from
// "quoted"). On ASCII reviews the tokens are otherwise identical (tested
// on real reviews in TestTokenizerOnRealLines).
func DefaultPreprocess() Preprocess {
	return Preprocess{Lowercase: true, RemoveSpecial: true, CollapseSpace: true, Tokenizer: TokenizerSplit}
}

// Validate reports settings no Tokenizer implements.
func (p Preprocess) Validate() error {
	switch p.Tokenizer {
	case TokenizerSplit, TokenizerTreebank:
		return nil
	}
	return fmt.Errorf("preprocess: unknown tokenizer %q (want %q or %q)", p.Tokenizer, TokenizerSplit, TokenizerTreebank)
}

// preprocessVersion changes whenever cleaning or tokenizing changes
// behaviour, so caches built by older code are not reused.
const preprocessVersion = 1

// Key is a canonical one-line form of the settings for the cache key, e.g.
// "v1 lower=1 special=1 collapse=1 tok=split".
func (p Preprocess) Key() string {
	b := func(v bool) int {
		if v {
			return 1
		}
		return 0
	}
	return fmt.Sprintf("v%d lower=%d special=%d collapse=%d tok=%s",
		preprocessVersion, b(p.Lowercase), b(p.RemoveSpecial), b(p.CollapseSpace), p.Tokenizer)
}

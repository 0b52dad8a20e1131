package data

// Preprocess holds the text preprocessing settings. They are part of the
// cache key and travel inside the model file, so that prediction cleans
// and tokenizes text exactly as training did.
type Preprocess struct {
	Lowercase     bool   `json:"lowercase"`
	RemoveSpecial bool   `json:"remove_special"` // keep letters, digits, apostrophes inside words
	CollapseSpace bool   `json:"collapse_space"`
	Tokenizer     string `json:"tokenizer"` // "treebank" or "split"
}

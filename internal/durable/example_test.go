package durable_test

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"trainer/internal/durable"
)

func ExampleFormat() {
	notes := durable.Format{Name: "notes file", Magic: "NOTES\x00\x00\x00", Version: 1}
	dir, _ := os.MkdirTemp("", "durable")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "notes.bin")

	err := notes.Write(path, func(w io.Writer) error {
		_, err := io.WriteString(w, "kept safely")
		return err
	})
	fmt.Println(err)
	_, body, err := notes.Read(path)
	fmt.Printf("%q %v\n", body, err)

	// A cut copy is refused, with both lengths.
	raw, _ := os.ReadFile(path)
	os.WriteFile(path, raw[:40], 0o644)
	_, _, err = notes.Read(path)
	fmt.Println(err.Error()[len(dir)+1:])
	// Output:
	// <nil>
	// "kept safely" <nil>
	// notes.bin: truncated: header says 43 bytes, file has 40
}

package durable

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var testFormat = Format{Name: "test file", Magic: "TESTFMT\x00", Version: 3}

func TestWriteReadRoundTrip(t *testing.T) {
	for _, size := range []int{0, 1, 4095, 3 << 20} { // 3 MiB passes the 1 MiB buffer
		body := make([]byte, size)
		for i := range body {
			body[i] = byte(i*7 + i>>11)
		}
		path := filepath.Join(t.TempDir(), "f.bin")
		err := testFormat.Write(path, func(w io.Writer) error {
			for rest := body; len(rest) > 0; { // in uneven pieces, as an encoder writes
				n := min(len(rest), 1000)
				w.Write(rest[:n])
				rest = rest[n:]
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := os.ReadFile(path)
		if want := testFormat.Append(nil, body); !bytes.Equal(raw, want) {
			t.Fatalf("size %d: Write and Append differ", size)
		}
		v, got, err := testFormat.Read(path)
		if err != nil || v != 3 || !bytes.Equal(got, body) {
			t.Fatalf("size %d: read version %d, %d bytes, %v", size, v, len(got), err)
		}
	}
}

func TestWriteFailureKeepsOldFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f.bin")
	if err := testFormat.Write(path, func(w io.Writer) error { _, err := w.Write([]byte("old")); return err }); err != nil {
		t.Fatal(err)
	}
	err := testFormat.Write(path, func(w io.Writer) error { w.Write([]byte("ne")); return errors.New("disk full") })
	if err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("error %v, want the cause", err)
	}
	if _, body, err := testFormat.Read(path); err != nil || string(body) != "old" {
		t.Fatalf("old file lost: %q, %v", body, err)
	}
	if ents, _ := os.ReadDir(filepath.Dir(path)); len(ents) != 1 {
		t.Fatalf("%d directory entries, want 1", len(ents))
	}
	if err := (Format{Name: "x", Magic: "short"}).Write(path, nil); err == nil {
		t.Fatal("a 5-byte magic was accepted")
	}
}

func TestDecodeRejects(t *testing.T) {
	good := testFormat.Append(nil, []byte("the body of the file"))
	with := func(mod func(b []byte) []byte) []byte { return mod(append([]byte(nil), good...)) }
	setU32 := func(off int, v uint32) func([]byte) []byte {
		return func(b []byte) []byte { binary.LittleEndian.PutUint32(b[off:], v); return b }
	}
	legacy := Format{Name: "test file", Magic: testFormat.Magic, Version: 3,
		Older: func(v uint32, raw []byte) ([]byte, error) {
			if v != 1 {
				return nil, errors.New("unknown older version")
			}
			return raw[12:], nil
		}}
	cases := []struct {
		name   string
		format Format
		raw    []byte
		want   string // in the error; "" = accepted
		body   string
	}{
		{"good", testFormat, good, "", "the body of the file"},
		{"empty", testFormat, nil, "not a test file", ""},
		{"foreign", testFormat, []byte("PK\x03\x04 a zip archive, not ours"), "not a test file", ""},
		{"other kind's magic", testFormat, Format{Magic: "OTHERFMT", Version: 3}.Append(nil, []byte("x")), "not a test file", ""},
		{"cut inside the magic", testFormat, good[:5], "truncated: 5 bytes, shorter than the 32-byte header", ""},
		{"cut inside the header", testFormat, good[:20], "truncated: 20 bytes, shorter than the 32-byte header", ""},
		{"cut in the body", testFormat, good[:len(good)-3], "truncated: header says 52 bytes, file has 49", ""},
		{"bytes appended", testFormat, append(append([]byte(nil), good...), 0, 0), "2 unexpected bytes at the end: header says 52 bytes, file has 54", ""},
		{"body bit flipped", testFormat, with(func(b []byte) []byte { b[40] ^= 4; return b }), "damaged: checksum mismatch", ""},
		{"length damaged", testFormat, with(func(b []byte) []byte { b[17]++; return b }), "damaged header", ""},
		{"newer version", testFormat, with(setU32(8, 7)), "written by a newer version 7 of the test file format; this build reads versions up to 3", ""},
		{"older version, no reader", testFormat, with(setU32(8, 2)), "test file format version 2 is no longer read; this build reads version 3", ""},
		{"older version, read", legacy, with(setU32(8, 1)), "", string(good[12:])},
		{"older version, refused", legacy, with(setU32(8, 2)), "test file format version 2: unknown older version", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, body, err := c.format.Decode(c.raw)
			if c.want == "" {
				if err != nil || string(body) != c.body {
					t.Fatalf("got %q, %v; want %q", body, err, c.body)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want one containing %q", err, c.want)
			}
			if foreign := strings.HasPrefix(c.want, "not a "); errors.Is(err, ErrForeign) != foreign {
				t.Fatalf("errors.Is(%v, ErrForeign) = %v, want %v", err, !foreign, foreign)
			}
		})
	}
}

func TestReadNamesThePath(t *testing.T) {
	path := filepath.Join(t.TempDir(), "model.bin")
	os.WriteFile(path, testFormat.Append(nil, []byte("abcdef"))[:34], 0o644)
	_, _, err := testFormat.Read(path)
	if err == nil || err.Error() != path+": truncated: header says 38 bytes, file has 34" {
		t.Fatalf("error %v", err)
	}
	_, _, err = testFormat.Read(filepath.Join(t.TempDir(), "missing.bin"))
	if !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), "missing.bin") {
		t.Fatalf("missing file: %v", err)
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(testFormat.Append(nil, []byte("seed body")))
	f.Add(testFormat.Append(nil, nil))
	f.Add([]byte("TESTFMT\x00\x07\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		v, body, err := testFormat.Decode(raw)
		if err != nil {
			return
		}
		// Whatever is accepted re-frames to the same bytes.
		if v != testFormat.Version || !bytes.Equal(testFormat.Append(nil, body), raw) {
			t.Fatalf("accepted %x as version %d body %x", raw, v, body)
		}
	})
}

// TestWriteFloat32s: the pieces add up to every value, little-endian, for
// lengths around the 64 KiB piece size.
func TestWriteFloat32s(t *testing.T) {
	for _, n := range []int{0, 1, 16383, 16384, 16385, 40000} {
		a := make([]float32, n)
		for i := range a {
			a[i] = float32(i)*0.5 - 7
		}
		var buf bytes.Buffer
		if err := WriteFloat32s(&buf, a); err != nil {
			t.Fatal(err)
		}
		b := buf.Bytes()
		if len(b) != 4*n {
			t.Fatalf("n=%d: %d bytes", n, len(b))
		}
		for i, v := range a {
			if got := math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:])); got != v {
				t.Fatalf("n=%d: value %d = %v, want %v", n, i, got, v)
			}
		}
	}
}

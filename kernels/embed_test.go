package kernels

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestEveryArchHasEverySource(t *testing.T) {
	sources, err := filepath.Glob("*.cu")
	if err != nil || len(sources) == 0 {
		t.Fatalf("no .cu sources: %v", err)
	}
	if got := Archs(); !slices.Equal(got, []int{80, 90}) {
		t.Fatalf("architectures %v, want [80 90]", got)
	}
	for _, arch := range Archs() {
		mods, err := ForDevice(arch/10, arch%10)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, m := range mods {
			if m.Arch != arch {
				t.Errorf("device %d got module %s for arch %d", arch, m.Name, m.Arch)
			}
			if len(m.Entries) == 0 {
				t.Errorf("%s.compute_%d.ptx defines no kernels", m.Name, m.Arch)
			}
			if !strings.Contains(m.PTX, ".target sm_") {
				t.Errorf("%s.compute_%d.ptx has no .target line", m.Name, m.Arch)
			}
			names = append(names, m.Name+".cu")
		}
		if !slices.Equal(names, sources) {
			t.Errorf("arch %d: PTX for %v, sources %v (run make ptx)", arch, names, sources)
		}
	}
}

func TestEntriesMatchSources(t *testing.T) {
	mods, err := ForDevice(9, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range mods {
		src, err := os.ReadFile(m.Name + ".cu")
		if err != nil {
			t.Fatal(err)
		}
		n := strings.Count(string(src), `extern "C" __global__`)
		if n != len(m.Entries) {
			t.Errorf("%s: %d kernels in the source, %d in the PTX %v (run make ptx)", m.Name, n, len(m.Entries), m.Entries)
		}
	}
}

func TestForDevice(t *testing.T) {
	cases := []struct {
		major, minor, arch int
		ok                 bool
	}{
		{7, 5, 0, false}, {8, 0, 80, true}, {8, 6, 80, true}, {8, 9, 80, true}, {9, 0, 90, true}, {10, 0, 90, true},
	}
	for _, c := range cases {
		mods, err := ForDevice(c.major, c.minor)
		if (err == nil) != c.ok {
			t.Errorf("ForDevice(%d.%d): err %v, want ok=%v", c.major, c.minor, err, c.ok)
			continue
		}
		if c.ok && mods[0].Arch != c.arch {
			t.Errorf("ForDevice(%d.%d) picked compute_%d, want compute_%d", c.major, c.minor, mods[0].Arch, c.arch)
		}
	}
}

package model

import "fmt"

// View is a named tensor inside the flat parameter buffer:
// params[Offset : Offset+Len], row-major with the given Shape.
type View struct {
	Name   string
	Offset int
	Len    int
	Shape  []int
}

// Slice returns the view's part of a flat buffer (parameters or gradients).
func (v View) Slice(buf []float32) []float32 { return buf[v.Offset : v.Offset+v.Len : v.Offset+v.Len] }

// Layout places every parameter of a Config in one flat buffer, in this
// order: "embed" [V, E]; for each layer l and direction d ("fwd", then
// "bwd" when bidirectional) "lstm.l.d.w_ih" [4H, In], "lstm.l.d.w_hh"
// [4H, H], "lstm.l.d.b" [4H]; then "head.w" [1, D] and "head.b" [1]; and
// last, with the n-gram path on, "wide" [Config.WideRows] (see
// NgramFeatures). The wide block comes last so that a model without it has
// exactly the layout it had before the path existed.
type Layout struct {
	cfg   Config
	views []View
	index map[string]int
	lstm  [][2]int // index of each layer and direction's w_ih view; w_hh and b follow it
	size  int
}

// DirName is the name of direction d (0 forward, 1 reverse) in view names.
func DirName(d int) string {
	if d == 0 {
		return "fwd"
	}
	return "bwd"
}

// NewLayout computes the layout of c. c should be valid (Config.Validate).
func NewLayout(c Config) Layout {
	l := Layout{cfg: c, index: map[string]int{}}
	add := func(name string, shape ...int) {
		n := 1
		for _, s := range shape {
			n *= s
		}
		l.index[name] = len(l.views)
		l.views = append(l.views, View{Name: name, Offset: l.size, Len: n, Shape: shape})
		l.size += n
	}
	h := c.Hidden
	add("embed", c.VocabSize, c.EmbedDim)
	l.lstm = make([][2]int, max(c.Layers, 0))
	for layer := 0; layer < c.Layers; layer++ {
		for d := 0; d < c.Dirs(); d++ {
			p := fmt.Sprintf("lstm.%d.%s.", layer, DirName(d))
			l.lstm[layer][d] = len(l.views)
			add(p+"w_ih", 4*h, c.InDim(layer))
			add(p+"w_hh", 4*h, h)
			add(p+"b", 4*h)
		}
	}
	add("head.w", 1, c.OutDim())
	add("head.b", 1)
	if r := c.WideRows(); r > 0 {
		add("wide", r)
	}
	return l
}

// Config is the configuration the layout was made for.
func (l Layout) Config() Config { return l.cfg }

// Size is the number of float32 parameters.
func (l Layout) Size() int { return l.size }

// Views lists every view in buffer order. The caller must not modify it.
func (l Layout) Views() []View { return l.views }

// View returns the named view; it panics on an unknown name, which is a
// programming error.
func (l Layout) View(name string) View {
	i, ok := l.index[name]
	if !ok {
		panic(fmt.Sprintf("model: no parameter view %q", name))
	}
	return l.views[i]
}

// Wide returns the wide path's table inside buf (laid out like the
// parameters), or nil when the path is off.
func (l Layout) Wide(buf []float32) []float32 {
	i, ok := l.index["wide"]
	if !ok {
		return nil
	}
	return l.views[i].Slice(buf)
}

// LSTMWeights are the tensors of one LSTM layer and direction, as slices
// of a flat buffer (parameters or their gradients).
type LSTMWeights struct {
	Wih    []float32 // [4H, In]
	Whh    []float32 // [4H, H]
	B      []float32 // [4H]
	In     int
	Hidden int
}

// LSTM returns layer's weights for direction d (0 forward, 1 reverse)
// inside buf, which is laid out like the parameters.
func (l Layout) LSTM(buf []float32, layer, d int) LSTMWeights {
	i := l.lstm[layer][d]
	return LSTMWeights{
		Wih:    l.views[i].Slice(buf),
		Whh:    l.views[i+1].Slice(buf),
		B:      l.views[i+2].Slice(buf),
		In:     l.cfg.InDim(layer),
		Hidden: l.cfg.Hidden,
	}
}

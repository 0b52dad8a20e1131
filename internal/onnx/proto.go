package onnx

import "google.golang.org/protobuf/encoding/protowire"

// The ONNX messages the exporter writes, encoded by hand with protowire
// against onnx.proto (proto2; repeated scalars unpacked, as proto2
// declares them). A generated package would link a tensor library and
// its dependencies into every build of the trainer for the few messages
// below; the tests decode what this writes with generated ONNX types and
// ONNX Runtime reads it in CI.

// Tensor element types (TensorProto.DataType).
const (
	tensorFloat = 1
	tensorInt32 = 6
	tensorInt64 = 7
)

// Attribute types (AttributeProto.AttributeType).
const (
	attrInt    = 2
	attrString = 3
	attrInts   = 7
)

// ModelProto is onnx.ModelProto's fields that the exporter sets.
type ModelProto struct {
	IrVersion     int64
	OpsetImport   []*OperatorSetIdProto
	ProducerName  string
	Graph         *GraphProto
	DocString     string
	MetadataProps []*StringStringEntryProto
}

// OperatorSetIdProto names an operator set and its version.
type OperatorSetIdProto struct {
	Domain  string
	Version int64
}

// StringStringEntryProto is one metadata entry.
type StringStringEntryProto struct{ Key, Value string }

// GraphProto is the computation: nodes, weights, inputs and outputs.
type GraphProto struct {
	Name        string
	DocString   string
	Node        []*NodeProto
	Initializer []*TensorProto
	Input       []*ValueInfoProto
	Output      []*ValueInfoProto
}

// NodeProto is one operator application.
type NodeProto struct {
	Input, Output []string
	Name, OpType  string
	Attribute     []*AttributeProto
}

// AttributeProto is an operator attribute of type Type: I, S or Ints.
type AttributeProto struct {
	Name string
	Type int32
	I    int64
	S    []byte
	Ints []int64
}

// TensorProto is a constant: RawData little-endian floats, or Int64Data.
type TensorProto struct {
	Name      string
	DataType  int32
	Dims      []int64
	RawData   []byte
	Int64Data []int64
}

// ValueInfoProto is a graph input or output: a tensor with named
// dimensions.
type ValueInfoProto struct {
	Name     string
	ElemType int32
	DimNames []string
}

// Marshal encodes m in the protobuf wire format.
func (m *ModelProto) Marshal() []byte {
	var b []byte
	b = protowire.AppendTag(b, 1, protowire.VarintType) // ir_version
	b = protowire.AppendVarint(b, uint64(m.IrVersion))
	b = appendString(b, 2, m.ProducerName)
	b = appendString(b, 6, m.DocString)
	if m.Graph != nil {
		b = appendMessage(b, 7, m.Graph.marshal())
	}
	for _, o := range m.OpsetImport {
		var ob []byte
		ob = appendString(ob, 1, o.Domain)
		ob = appendInt(ob, 2, o.Version)
		b = appendMessage(b, 8, ob)
	}
	for _, e := range m.MetadataProps {
		var eb []byte
		eb = appendString(eb, 1, e.Key)
		eb = appendString(eb, 2, e.Value)
		b = appendMessage(b, 14, eb)
	}
	return b
}

func (g *GraphProto) marshal() []byte {
	var b []byte
	for _, n := range g.Node {
		b = appendMessage(b, 1, n.marshal())
	}
	b = appendString(b, 2, g.Name)
	for _, t := range g.Initializer {
		b = appendMessage(b, 5, t.marshal())
	}
	b = appendString(b, 10, g.DocString)
	for _, v := range g.Input {
		b = appendMessage(b, 11, v.marshal())
	}
	for _, v := range g.Output {
		b = appendMessage(b, 12, v.marshal())
	}
	return b
}

func (n *NodeProto) marshal() []byte {
	var b []byte
	for _, s := range n.Input {
		b = appendString(b, 1, s)
	}
	for _, s := range n.Output {
		b = appendString(b, 2, s)
	}
	b = appendString(b, 3, n.Name)
	b = appendString(b, 4, n.OpType)
	for _, a := range n.Attribute {
		b = appendMessage(b, 5, a.marshal())
	}
	return b
}

func (a *AttributeProto) marshal() []byte {
	var b []byte
	b = appendString(b, 1, a.Name)
	switch a.Type {
	case attrInt:
		b = appendInt(b, 3, a.I) // written even when 0: the value is the attribute
	case attrString:
		b = protowire.AppendTag(b, 4, protowire.BytesType)
		b = protowire.AppendBytes(b, a.S)
	case attrInts:
		for _, v := range a.Ints {
			b = appendInt(b, 8, v)
		}
	}
	return appendInt(b, 20, int64(a.Type))
}

func (t *TensorProto) marshal() []byte {
	var b []byte
	for _, d := range t.Dims {
		b = appendInt(b, 1, d)
	}
	b = appendInt(b, 2, int64(t.DataType))
	for _, v := range t.Int64Data {
		b = appendInt(b, 7, v)
	}
	b = appendString(b, 8, t.Name)
	if t.RawData != nil {
		b = protowire.AppendTag(b, 9, protowire.BytesType)
		b = protowire.AppendBytes(b, t.RawData)
	}
	return b
}

func (v *ValueInfoProto) marshal() []byte {
	var shape []byte
	for _, d := range v.DimNames {
		shape = appendMessage(shape, 1, appendString(nil, 2, d)) // dim { dim_param }
	}
	var tensor []byte
	tensor = appendInt(tensor, 1, int64(v.ElemType))
	tensor = appendMessage(tensor, 2, shape)
	var b []byte
	b = appendString(b, 1, v.Name)
	return appendMessage(b, 2, appendMessage(nil, 1, tensor)) // type { tensor_type }
}

// appendInt appends an int64 or int32 field (negative values as ten-byte
// varints, as protobuf encodes them).
func appendInt(b []byte, num protowire.Number, v int64) []byte {
	b = protowire.AppendTag(b, num, protowire.VarintType)
	return protowire.AppendVarint(b, uint64(v))
}

// appendString appends a string field; an empty one is left out.
func appendString(b []byte, num protowire.Number, s string) []byte {
	if s == "" {
		return b
	}
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendString(b, s)
}

func appendMessage(b []byte, num protowire.Number, m []byte) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendBytes(b, m)
}

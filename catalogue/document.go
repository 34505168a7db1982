package catalogue

import (
	"bytes"
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"
)

// FieldDocs is where every field of an alerts config is documented: the
// health-agent preset sets each one, with a comment saying what it does.
const FieldDocs = "catalogue/presets/health-agent.yaml"

// Document is the config as a commented YAML file that sets every field:
// what `headroom preset NAME` prints for a user to copy and edit. The
// comments are the field documentation of FieldDocs, and the preset's own
// header comment leads; read back with Load it is the same config, and so
// generates the same bundle.
func (c *Config) Document() ([]byte, error) {
	var body yaml.Node
	if err := body.Encode(c); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	dropUnsetOverrides(&body)
	flowScalarLists(&body)

	docs, err := PresetSource(SetHealthAgent)
	if err != nil {
		return nil, err
	}
	var ref yaml.Node
	if err := yaml.Unmarshal(docs, &ref); err != nil {
		return nil, fmt.Errorf("%s: %w", FieldDocs, err)
	}
	if len(ref.Content) == 1 {
		copyComments(&body, ref.Content[0])
	}
	if len(body.Content) > 0 && body.Content[0].Value == "preset" && body.Content[0].HeadComment == "" {
		body.Content[0].HeadComment = "The preset this file is read on top of: " + strings.Join(Presets(), " or ") + "."
	}

	header := []string{
		fmt.Sprintf("Preset %s with every field set: save it as a file, change what differs,", c.Preset),
		"and pass it to `headroom generate --config FILE` (or replay --config FILE).",
		"As it stands it generates exactly the bundle of --preset " + c.Preset + ".",
		"The comments on the fields are those of " + FieldDocs + ".",
	}
	if own := presetHeader(c.Preset); own != "" {
		header = append(header, "", own)
	}
	doc := &yaml.Node{Kind: yaml.DocumentNode, HeadComment: strings.Join(header, "\n"), Content: []*yaml.Node{&body}}
	var out bytes.Buffer
	enc := yaml.NewEncoder(&out)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return spaceSections(out.Bytes()), nil
}

// presetHeader is the comment that opens a preset's file (what it is
// for), without its "# " markers; the yaml encoder adds them back.
func presetHeader(name string) string {
	src, err := PresetSource(name)
	if err != nil {
		return ""
	}
	var n yaml.Node
	if yaml.Unmarshal(src, &n) != nil {
		return ""
	}
	text := n.HeadComment
	if text == "" && len(n.Content) == 1 && len(n.Content[0].Content) > 0 {
		// Written right above the first field, it is that field's comment.
		text = n.Content[0].Content[0].HeadComment
	}
	var lines []string
	for _, l := range strings.Split(text, "\n") {
		lines = append(lines, strings.TrimPrefix(strings.TrimPrefix(l, "#"), " "))
	}
	return strings.TrimSpace(strings.Join(lines, "\n"))
}

// spaceSections puts a blank line above each commented top-level field, as
// in the preset files, so that the sections read apart.
func spaceSections(doc []byte) []byte {
	lines := strings.SplitAfter(string(doc), "\n")
	var b strings.Builder
	for i, l := range lines {
		if i > 0 && strings.HasPrefix(l, "#") {
			prev := lines[i-1]
			if !strings.HasPrefix(prev, "#") && strings.TrimSpace(prev) != "" {
				b.WriteString("\n")
			}
		}
		b.WriteString(l)
	}
	return []byte(b.String())
}

// dropUnsetOverrides leaves out of each trigger override the fields it does
// not set (null pointers, no where scopes), which read back as unset.
func dropUnsetOverrides(body *yaml.Node) {
	triggers := mappingValue(body, "triggers")
	if triggers == nil || triggers.Kind != yaml.MappingNode {
		return
	}
	for i := 1; i < len(triggers.Content); i += 2 {
		o := triggers.Content[i]
		if o.Kind != yaml.MappingNode {
			continue
		}
		var kept []*yaml.Node
		for j := 0; j+1 < len(o.Content); j += 2 {
			v := o.Content[j+1]
			unset := v.Tag == "!!null" ||
				(v.Kind == yaml.SequenceNode && len(v.Content) == 0) ||
				(o.Content[j].Value == "severity" && v.Value == "")
			if o.Content[j].Value == "forecast" && v.Kind == yaml.MappingNode {
				var set []*yaml.Node
				for k := 0; k+1 < len(v.Content); k += 2 {
					if v.Content[k+1].Tag != "!!null" {
						set = append(set, v.Content[k], v.Content[k+1])
					}
				}
				v.Content, v.Style = set, yaml.FlowStyle
			}
			if !unset {
				kept = append(kept, o.Content[j], v)
			}
		}
		o.Content = kept
		o.Style = yaml.FlowStyle
	}
}

// flowScalarLists writes lists of scalars on one line, as the presets do.
func flowScalarLists(n *yaml.Node) {
	if n.Kind == yaml.SequenceNode {
		flow := true
		for _, item := range n.Content {
			flow = flow && item.Kind == yaml.ScalarNode
		}
		if flow {
			n.Style = yaml.FlowStyle
		}
	}
	for _, child := range n.Content {
		flowScalarLists(child)
	}
}

// copyComments puts the comments of ref's keys on the same keys of n, at
// every depth where both are mappings.
func copyComments(n, ref *yaml.Node) {
	if n.Kind != yaml.MappingNode || ref.Kind != yaml.MappingNode {
		return
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		key, val := n.Content[i], n.Content[i+1]
		for j := 0; j+1 < len(ref.Content); j += 2 {
			rk, rv := ref.Content[j], ref.Content[j+1]
			if rk.Value != key.Value {
				continue
			}
			key.HeadComment, key.LineComment, key.FootComment = rk.HeadComment, rk.LineComment, rk.FootComment
			val.LineComment = rv.LineComment
			copyComments(val, rv)
		}
	}
}

func mappingValue(n *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// Package strictyaml decodes headroom's YAML files strictly: a key no field
// takes is an error, and every error names the key's path and line, where
// yaml.v3 alone reports a refused value (a duration such as "5 minutes")
// without saying whose value it is. Every file headroom reads goes through
// Decode, so that a misspelt key is never silently ignored.
package strictyaml

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// Decode decodes one YAML document into v, a pointer. An empty document
// leaves v as it is. Fields present in the document replace v's; the
// others keep their values.
func Decode(data []byte, v any) error {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return err
	}
	if doc.Kind == 0 {
		return nil
	}
	c := checker{}
	c.check(&doc, reflect.TypeOf(v), "")
	if len(c.errs) > 0 {
		return errors.Join(c.errs...)
	}
	// The walk above covers what it knows; yaml.v3's own strict decoding
	// stays as the backstop for the rest.
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	return nil
}

// DecodeNode decodes a node (one that a yaml.Node field held back) into v
// as strictly as Decode; path is the node's place in its file, for errors.
func DecodeNode(n *yaml.Node, path string, v any) error {
	c := checker{}
	c.check(n, reflect.TypeOf(v), path)
	if len(c.errs) > 0 {
		return errors.Join(c.errs...)
	}
	return n.Decode(v)
}

var (
	unmarshaler         = reflect.TypeOf((*yaml.Unmarshaler)(nil)).Elem()
	obsoleteUnmarshaler = reflect.TypeOf((*interface{ UnmarshalYAML(func(any) error) error })(nil)).Elem()
	nodeType            = reflect.TypeOf(yaml.Node{})
)

// checker holds what one walk has found and where its aliases led.
type checker struct {
	errs []error
	// seen holds the anchored nodes already walked as a type: a list of n
	// aliases to a node holding n aliases would otherwise be walked n²
	// times (36 kB of YAML took 9 s and 480 MB) before yaml.v3 refuses it
	// for excessive aliasing. What an anchor holds is reported once, where
	// the walk first meets it.
	seen map[aliasUse]bool
}

type aliasUse struct {
	anchor *yaml.Node
	t      reflect.Type
}

// check walks a node against the Go type it decodes into and records
// unknown keys and values a custom unmarshaler refuses, each with its
// path (triggers.CPUHigh.for, input_series[0].values) and line.
func (c *checker) check(n *yaml.Node, t reflect.Type, path string) {
	for n.Kind == yaml.DocumentNode && len(n.Content) == 1 {
		n = n.Content[0]
	}
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if n.Anchor != "" {
		use := aliasUse{n, t}
		if c.seen[use] {
			return
		}
		if c.seen == nil {
			c.seen = map[aliasUse]bool{}
		}
		c.seen[use] = true
	}
	if n.Tag == "!!null" {
		return
	}
	if t == nodeType {
		return
	}
	if reflect.PointerTo(t).Implements(unmarshaler) || reflect.PointerTo(t).Implements(obsoleteUnmarshaler) {
		if err := n.Decode(reflect.New(t).Interface()); err != nil {
			c.errs = append(c.errs, fmt.Errorf("%s: line %d: %w", name(path), n.Line, err))
		}
		return
	}
	switch t.Kind() {
	case reflect.Pointer:
		c.check(n, t.Elem(), path)
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			return // yaml.v3 reports the type mismatch
		}
		fields := map[string]reflect.Type{}
		open := structFields(t, fields)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, val := n.Content[i], n.Content[i+1]
			if k.Tag == "!!merge" {
				c.check(val, t, path)
				continue
			}
			ft, ok := fields[k.Value]
			if !ok && open {
				continue // an inline map takes the keys no field does
			}
			if !ok {
				known := make([]string, 0, len(fields))
				for f := range fields {
					known = append(known, f)
				}
				sort.Strings(known)
				c.errs = append(c.errs, fmt.Errorf("%s: line %d: unknown key (known here: %s)", join(path, k.Value), k.Line, strings.Join(known, ", ")))
				continue
			}
			c.check(val, ft, join(path, k.Value))
		}
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			return
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			c.check(n.Content[i+1], t.Elem(), join(path, n.Content[i].Value))
		}
	case reflect.Slice, reflect.Array:
		if n.Kind != yaml.SequenceNode {
			return
		}
		for i, item := range n.Content {
			c.check(item, t.Elem(), fmt.Sprintf("%s[%d]", path, i))
		}
	}
}

// structFields maps a struct's YAML keys to their types, inline fields
// included; open is true when an inline map takes every other key.
func structFields(t reflect.Type, out map[string]reflect.Type) (open bool) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("yaml")
		if tag == "-" {
			continue
		}
		key, opts, _ := strings.Cut(tag, ",")
		if strings.Contains(","+opts+",", ",inline,") {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			switch ft.Kind() {
			case reflect.Struct:
				open = structFields(ft, out) || open
			case reflect.Map:
				open = true
			}
			continue
		}
		if !f.IsExported() {
			continue
		}
		if key == "" {
			key = strings.ToLower(f.Name)
		}
		out[key] = f.Type
	}
	return open
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func name(path string) string {
	if path == "" {
		return "(document)"
	}
	return path
}

// Package manifest renders Kubernetes objects as the YAML an applied
// manifest carries: without status and the empty or null fields that Go's
// non-pointer struct fields leave (creationTimestamp: null, strategy: {},
// resources: {}), so that a generated file holds what its author set.
package manifest

import (
	"encoding/json"

	sigsyaml "sigs.k8s.io/yaml"
)

// Marshal renders obj, an upstream type, as a manifest's YAML.
func Marshal(obj any) ([]byte, error) {
	j, err := json.Marshal(obj)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(j, &m); err != nil {
		return nil, err
	}
	delete(m, "status")
	pruneEmpty(m)
	return sigsyaml.Marshal(m)
}

// pruneEmpty drops null values and empty objects, in lists too.
func pruneEmpty(m map[string]any) {
	for k, v := range m {
		switch v := v.(type) {
		case nil:
			delete(m, k)
		case map[string]any:
			pruneEmpty(v)
			if len(v) == 0 {
				delete(m, k)
			}
		case []any:
			for _, e := range v {
				if sub, ok := e.(map[string]any); ok {
					pruneEmpty(sub)
				}
			}
		}
	}
}

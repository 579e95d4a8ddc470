package config

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// checkShape walks the YAML tree beside the Config type before decoding, so
// that unknown keys and values of the wrong kind are named as the semantic
// errors are, by their path in the file and the form expected
// ("tenants[0].interfaces[0].tx_retry_time: 5 (line 7): want a duration
// with its unit, such as 500us or 2ms"), rather than by a Go type. It
// returns every such problem, joined; nil when the decoder will accept the
// tree.
func checkShape(root *yaml.Node) error {
	var errs []error
	walkShape(root, reflect.TypeFor[Config](), "", &errs)
	return errors.Join(errs...)
}

var durationType = reflect.TypeFor[time.Duration]()

func walkShape(n *yaml.Node, t reflect.Type, path string, errs *[]error) {
	for n.Kind == yaml.DocumentNode && len(n.Content) == 1 {
		n = n.Content[0]
	}
	if n.Kind == yaml.AliasNode {
		// Not followed: a chain of aliases can expand exponentially. The
		// decoder, which bounds that, checks what they point to.
		return
	}
	if n.Kind == yaml.DocumentNode || n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return // empty: the zero value
	}
	bad := func(want string) {
		what := n.Value
		switch n.Kind {
		case yaml.MappingNode:
			what = "a mapping"
		case yaml.SequenceNode:
			what = "a list"
		default:
			what = strconv.Quote(what)
		}
		field := path
		if field == "" {
			field = "the file"
		}
		*errs = append(*errs, &Error{Field: field, Reason: fmt.Sprintf("%s (line %d): want %s", what, n.Line, want)})
	}
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t == durationType:
		if n.Kind != yaml.ScalarNode {
			bad("a duration with its unit, such as 500us or 2ms")
		} else if _, err := time.ParseDuration(n.Value); err != nil {
			bad("a duration with its unit, such as 500us or 2ms")
		}
	case t.Kind() == reflect.Struct:
		if n.Kind != yaml.MappingNode {
			bad("a mapping of keys (" + strings.Join(yamlKeys(t), ", ") + ")")
			return
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			f, ok := fieldByKey(t, k.Value)
			sub := joinPath(path, k.Value)
			if !ok {
				*errs = append(*errs, &Error{Field: sub, Reason: fmt.Sprintf("unknown key (line %d); known keys here: %s", k.Line, strings.Join(yamlKeys(t), ", "))})
				continue
			}
			walkShape(v, f.Type, sub, errs)
		}
	case t.Kind() == reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			bad("a list")
			return
		}
		for i, e := range n.Content {
			walkShape(e, t.Elem(), fmt.Sprintf("%s[%d]", path, i), errs)
		}
	case t.Kind() == reflect.String:
		if n.Kind != yaml.ScalarNode {
			bad("a string")
		}
	case t.Kind() == reflect.Bool:
		if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" {
			bad("true or false")
		}
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Int64:
		v, err := strconv.ParseInt(n.Value, 0, 64)
		if n.Kind != yaml.ScalarNode || n.Tag != "!!int" || err != nil || v < -1<<(t.Bits()-1) || v > 1<<(t.Bits()-1)-1 {
			bad(fmt.Sprintf("an integer in %d..%d", int64(-1<<(t.Bits()-1)), int64(1<<(t.Bits()-1)-1)))
		}
	case t.Kind() >= reflect.Uint && t.Kind() <= reflect.Uint64:
		v, err := strconv.ParseUint(n.Value, 0, 64)
		if n.Kind != yaml.ScalarNode || n.Tag != "!!int" || err != nil || t.Bits() < 64 && v > math.MaxUint64>>(64-t.Bits()) {
			bad(fmt.Sprintf("an integer in 0..%d", uint64(math.MaxUint64>>(64-t.Bits()))))
		}
	}
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// yamlKeys lists the keys of a config struct, as its tags name them.
func yamlKeys(t reflect.Type) []string {
	var keys []string
	for f := range t.Fields() {
		if k := yamlKey(f); k != "" {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys
}

func yamlKey(f reflect.StructField) string {
	k, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	if k == "-" || !f.IsExported() {
		return ""
	}
	if k == "" {
		k = strings.ToLower(f.Name)
	}
	return k
}

func fieldByKey(t reflect.Type, key string) (reflect.StructField, bool) {
	for f := range t.Fields() {
		if yamlKey(f) == key {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

package kube_test

import (
	"strings"
	"testing"

	"github.com/memif-wasm/memif-wasm/deploy/kube"
)

const goodCM = `apiVersion: v1
kind: ConfigMap
metadata:
  name: c
  namespace: demo
data:
  a: b
`

func TestDecodeSkipsCommentDocuments(t *testing.T) {
	objs, err := kube.Decode(strings.NewReader("# only a comment\n---\n" + goodCM + "---\n\n---\n# trailing\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) != 1 || objs[0].Name() != "ConfigMap/demo/c" || objs[0].Doc != 2 {
		t.Fatalf("objs %+v", objs)
	}
}

// TestDecodeStrict: what the API server's strict field validation refuses,
// Decode refuses, naming the document and the field.
func TestDecodeStrict(t *testing.T) {
	ds := `apiVersion: apps/v1
kind: DaemonSet
metadata: {name: d, namespace: demo}
spec:
  selector: {matchLabels: {a: b}}
  template:
    metadata: {labels: {a: b}}
    spec:
      %s
      containers: [{name: c, image: "i:1"}]
`
	cases := []struct {
		name, doc, want string
	}{
		{"unknown field", strings.Replace(ds, "%s", "hostNetwrok: true", 1), "hostNetwrok"},
		{"wrong case", strings.Replace(ds, "%s", "HostNetwork: true", 1), "HostNetwork"},
		{"wrong type", strings.Replace(ds, "%s", `hostNetwork: "yes"`, 1), "hostNetwork"},
		{"duplicate field", strings.Replace(ds, "%s", "hostNetwork: false\n      hostNetwork: true", 1), "hostNetwork"},
		{"unknown kind", "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\n", `"Pod"`},
		{"unknown group", "apiVersion: example.com/v1\nkind: ConfigMap\nmetadata: {name: p}\n", "example.com"},
		{"bad apiVersion", "apiVersion: a/b/c\nkind: ConfigMap\n", "a/b/c"},
		{"no kind", "apiVersion: v1\nmetadata: {name: p}\n", `kind ""`},
		{"not a mapping", "- just\n- a list\n", "unmarshal array"},
		{"not YAML", "a: [b\n", "YAML"},
		{"data not strings", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {a: {b: c}}\n", "data"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			objs, err := kube.Decode(strings.NewReader(goodCM + "---\n" + c.doc))
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "document 2") {
				t.Fatalf("Decode = %d objects, %v; want an error naming document 2 and %q", len(objs), err, c.want)
			}
		})
	}
}

// FuzzDecode: hostile YAML gives objects or an error, never a panic.
func FuzzDecode(f *testing.F) {
	f.Add(goodCM)
	f.Add("apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: d}\nspec: {template: {spec: {containers: [{name: c}]}}}\n")
	f.Add("---\n---\n# x\n")
	f.Add("apiVersion: v1\nkind: Service\nspec: {ports: [{port: 99999999999}]}\n")
	f.Add("a: &a [*a]\n")
	f.Fuzz(func(t *testing.T, s string) {
		objs, err := kube.Decode(strings.NewReader(s))
		if err == nil {
			for _, o := range objs {
				_ = o.Name()
			}
			_ = kube.Check(objs, kube.Policy{})
		}
	})
}
